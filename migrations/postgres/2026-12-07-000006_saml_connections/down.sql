ALTER TABLE sso_settings DROP COLUMN upstream;
DROP TABLE saml_assertions;
DROP TABLE saml_requests;
DROP TABLE saml_connections;
