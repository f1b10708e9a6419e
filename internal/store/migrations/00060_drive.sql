-- +goose Up
-- The Drive API (internal/driveapi). Shared DDL for SQLite and PostgreSQL.

-- A driver-app user: the app's own user id (POST /drive/v1/users {id})
-- mapped to a Joule user, per organization and mode. The app addresses
-- its users by its id in every Drive path and receives it as userId in
-- Drive webhooks. virtual_key_id is the user's VIRTUAL charging key, the
-- one the Drive API lists and filters remote sessions by.
CREATE TABLE drive_users (
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    test_mode      BOOLEAN NOT NULL,
    external_id    TEXT NOT NULL,
    user_id        TEXT NOT NULL UNIQUE REFERENCES users(id),
    virtual_key_id TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, test_mode, external_id)
);

-- Geosearch: a radius search reads the latitude band of one organization
-- and mode through this index (the longitude ranges are checked from the
-- index entries, the exact distance afterwards). The foundation's
-- locations_geo lacks the tenant columns, so on a shared installation it
-- would scan every tenant's locations in the band.
CREATE INDEX locations_org_geo ON locations(org_id, test_mode, latitude, longitude);

-- +goose Down
DROP INDEX locations_org_geo;
DROP TABLE drive_users;
