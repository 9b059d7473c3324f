-- When the endpoint's first failure since its last success happened (NULL while it is
-- healthy): it is disabled only once failures have lasted long enough.
ALTER TABLE webhook_endpoints ADD COLUMN failing_since TEXT;
-- consecutive_failures now counts failed deliveries (retries exhausted), not attempts.
UPDATE webhook_endpoints SET consecutive_failures = 0;
