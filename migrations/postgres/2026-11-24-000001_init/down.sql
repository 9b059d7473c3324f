DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE users;
DROP TABLE scim_tokens;
DROP TABLE tenants;
