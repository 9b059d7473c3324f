// roster admin: progressive enhancement only. Every screen works without this file.
'use strict';

// <button data-copy="#id"> copies the text of #id.
document.addEventListener('click', (e) => {
  const button = e.target.closest('button[data-copy]');
  if (!button) return;
  e.preventDefault();
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(
    () => { button.textContent = 'Copied'; },
    () => { button.textContent = 'Select and copy'; });
});

// <section data-poll="/url" data-interval="2000"> reloads its contents from /url (an
// HTML fragment) while the page is open: JumpCloud's Test Connection comes first and
// its Activate burst (test user, test group) a while later, so arrivals keep coming.
// Once something arrived ([data-done]) it polls every 5 s; it stops after an hour.
for (const section of document.querySelectorAll('[data-poll]')) {
  const fast = Number(section.dataset.interval || 2000);
  const stopAt = Date.now() + 60 * 60 * 1000;
  const tick = async () => {
    try {
      const res = await fetch(section.dataset.poll, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (res.ok) section.innerHTML = await res.text();
    } catch (_) { /* offline for a moment: try again */ }
    if (Date.now() < stopAt) setTimeout(tick, section.querySelector('[data-done]') ? Math.max(fast, 5000) : fast);
  };
  setTimeout(tick, fast);
}
