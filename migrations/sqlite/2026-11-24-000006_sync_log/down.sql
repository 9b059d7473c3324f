DROP TABLE scim_request_log;
