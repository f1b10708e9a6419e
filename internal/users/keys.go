package users

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/id"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
)

// Charging key types: an RFID card (or app token) the driver presents at the
// charger, or a virtual key Joule uses for remote starts.
const (
	KeyRFID    = "rfid"
	KeyVirtual = "virtual"
)

// ChargingKey is an idTag of a user.
type ChargingKey struct {
	ID        string    `json:"_id"`
	User      string    `json:"user"`
	IDTag     string    `json:"id_tag"`
	Type      string    `json:"type"`
	Active    bool      `json:"active"`
	TestMode  bool      `json:"test_mode"`
	CreatedAt time.Time `json:"createdAt"`
}

// NewVirtualTag makes an idTag for remote starts: 20 characters, the OCPP
// 1.6 CiString20 limit.
func NewVirtualTag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "JV" + strings.ToUpper(hex.EncodeToString(b[:])) + "01"
}

// AddKey gives the user an idTag.
func AddKey(ctx context.Context, tx *store.Tx, p org.Principal, userID, idTag, typ string) (ChargingKey, error) {
	if _, err := Get(ctx, tx, p, userID); err != nil {
		return ChargingKey{}, err
	}
	if idTag == "" || len(idTag) > 20 {
		return ChargingKey{}, apperr.InvalidField("id_tag", "an idTag has 1 to 20 characters (OCPP 1.6 CiString20)")
	}
	k := ChargingKey{ID: id.New(), User: userID, IDTag: idTag, Type: typ, Active: true, TestMode: p.TestMode, CreatedAt: store.Now()}
	_, err := tx.ExecContext(ctx, `INSERT INTO charging_keys (id, org_id, test_mode, user_id, id_tag, type, active, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		k.ID, p.OrgID, p.TestMode, userID, idTag, typ, true, k.CreatedAt)
	if store.IsUniqueViolation(err) {
		return ChargingKey{}, apperr.Newf(apperr.Conflict, "id_tag_taken", "idTag %q already belongs to a user", idTag)
	}
	if err != nil {
		return ChargingKey{}, fmt.Errorf("users: add key: %w", err)
	}
	return k, nil
}

// KeyByTag finds the charging key with idTag in the organization and mode.
func KeyByTag(ctx context.Context, q store.Querier, p org.Principal, idTag string) (ChargingKey, error) {
	var k ChargingKey
	err := q.QueryRowContext(ctx, `SELECT id, user_id, id_tag, type, active, test_mode, created_at FROM charging_keys
		WHERE org_id = $1 AND test_mode = $2 AND id_tag = $3`, p.OrgID, p.TestMode, idTag).
		Scan(&k.ID, &k.User, &k.IDTag, &k.Type, &k.Active, &k.TestMode, &k.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return k, apperr.NotFoundf("charging_key", idTag)
	}
	if err != nil {
		return k, fmt.Errorf("users: key %s: %w", idTag, err)
	}
	return k, nil
}

// KeyByID finds one of the user's charging keys by its id.
func KeyByID(ctx context.Context, q store.Querier, p org.Principal, userID, keyID string) (ChargingKey, error) {
	var k ChargingKey
	err := q.QueryRowContext(ctx, `SELECT id, user_id, id_tag, type, active, test_mode, created_at FROM charging_keys
		WHERE id = $1 AND org_id = $2 AND test_mode = $3 AND user_id = $4`, keyID, p.OrgID, p.TestMode, userID).
		Scan(&k.ID, &k.User, &k.IDTag, &k.Type, &k.Active, &k.TestMode, &k.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return k, apperr.NotFoundf("charging_key", keyID)
	}
	if err != nil {
		return k, fmt.Errorf("users: key %s: %w", keyID, err)
	}
	return k, nil
}

// Keys lists the user's charging keys, oldest first.
func Keys(ctx context.Context, q store.Querier, p org.Principal, userID string) ([]ChargingKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, user_id, id_tag, type, active, test_mode, created_at FROM charging_keys
		WHERE org_id = $1 AND test_mode = $2 AND user_id = $3 ORDER BY id`, p.OrgID, p.TestMode, userID)
	if err != nil {
		return nil, fmt.Errorf("users: keys of %s: %w", userID, err)
	}
	defer rows.Close()
	out := []ChargingKey{}
	for rows.Next() {
		var k ChargingKey
		if err := rows.Scan(&k.ID, &k.User, &k.IDTag, &k.Type, &k.Active, &k.TestMode, &k.CreatedAt); err != nil {
			return nil, fmt.Errorf("users: keys of %s: %w", userID, err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// SetKeyActive blocks or unblocks a key.
func SetKeyActive(ctx context.Context, tx *store.Tx, p org.Principal, keyID string, active bool) error {
	res, err := tx.ExecContext(ctx, `UPDATE charging_keys SET active = $1 WHERE id = $2 AND org_id = $3 AND test_mode = $4`, active, keyID, p.OrgID, p.TestMode)
	if err != nil {
		return fmt.Errorf("users: set key %s: %w", keyID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.NotFoundf("charging_key", keyID)
	}
	return nil
}
