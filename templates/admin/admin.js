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

// <section data-poll="/url" data-interval="2000"> reloads its contents from /url
// (an HTML fragment) until the fragment carries data-done.
for (const section of document.querySelectorAll('[data-poll]')) {
  const interval = Number(section.dataset.interval || 2000);
  const tick = async () => {
    try {
      const res = await fetch(section.dataset.poll, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (res.ok) section.innerHTML = await res.text();
    } catch (_) { /* offline for a moment: try again */ }
    if (!section.querySelector('[data-done]')) setTimeout(tick, interval);
  };
  setTimeout(tick, interval);
}
