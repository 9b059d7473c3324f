DROP TABLE sso_settings;
DROP TABLE sso_identities;
DROP TABLE oauth_codes;
DROP TABLE oauth_signing_keys;
DROP TABLE oauth_clients;
