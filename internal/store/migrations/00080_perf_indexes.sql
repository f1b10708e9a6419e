-- +goose Up
-- A charger's StartTransaction looks for the latest session of its idTag on
-- that station; an RFID card used for years has many sessions.
CREATE INDEX sessions_tag_station ON sessions(id_tag, chargestation_id, id);

-- +goose Down
DROP INDEX sessions_tag_station;
