package driveapi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/joule-ev/joule/internal/apperr"
	"github.com/joule-ev/joule/internal/org"
	"github.com/joule-ev/joule/internal/store"
	"github.com/joule-ev/joule/internal/users"
)

// Users of the Drive API are the app's users, named by the app's own ids.
// Each maps to one Joule user (with its wallet, payment methods and keys)
// in drive_users; the Joule user carries the app's id in its metadata too,
// so that an operator reading the Platform API can tell whose it is.

// userIDPattern bounds the app's user ids: URL-path safe, so that they can
// be used in /drive/v1/users/{userId}/... as they are.
const userIDPattern = `^[A-Za-z0-9][A-Za-z0-9._~:@+=-]{0,127}$`

// metadataKey is the Joule user's metadata entry holding the app's id.
const metadataKey = "drive_user_id"

// driveUser is a row of drive_users.
type driveUser struct {
	ExternalID   string
	UserID       string
	VirtualKeyID string
	CreatedAt    time.Time
}

func scanDriveUser(row *sql.Row) (driveUser, error) {
	var u driveUser
	err := row.Scan(&u.ExternalID, &u.UserID, &u.VirtualKeyID, &u.CreatedAt)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

// lookupUser finds the app's user id in the principal's organization and
// mode. Another organization's (or mode's) user does not exist here.
func lookupUser(ctx context.Context, q store.Querier, p org.Principal, externalID string) (driveUser, error) {
	u, err := scanDriveUser(q.QueryRowContext(ctx, `SELECT external_id, user_id, virtual_key_id, created_at FROM drive_users
		WHERE org_id = $1 AND test_mode = $2 AND external_id = $3`, p.OrgID, p.TestMode, externalID))
	if errors.Is(err, sql.ErrNoRows) {
		return u, apperr.NotFoundf("user", externalID)
	}
	if err != nil {
		return u, fmt.Errorf("driveapi: user %s: %w", externalID, err)
	}
	return u, nil
}

// externalIDOf is the app's id of a Joule user ("" when the user was not
// made through the Drive API).
func externalIDOf(ctx context.Context, q store.Querier, userID string) (string, error) {
	var ext string
	err := q.QueryRowContext(ctx, `SELECT external_id FROM drive_users WHERE user_id = $1`, userID).Scan(&ext)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("driveapi: drive id of %s: %w", userID, err)
	}
	return ext, nil
}

// User is a Drive API user.
type User struct {
	ID          string    `json:"id" doc:"The app's own user id, as given to POST /drive/v1/users"`
	Email       string    `json:"email,omitempty"`
	JouleUserID string    `json:"jouleUserId" doc:"The Joule user it maps to (the Platform API's /v1/users/{id})"`
	CreatedAt   time.Time `json:"createdAt"`
}

// UserInput is POST /drive/v1/users.
type UserInput struct {
	ID    string `json:"id" pattern:"^[A-Za-z0-9][A-Za-z0-9._~:@+=-]{0,127}$" doc:"The app's own user id (1-128 characters: letters, digits and . _ ~ : @ + = -)"`
	Email string `json:"email,omitempty" maxLength:"254" format:"email"`
}

// UserIDPath is the {userId} path parameter.
type UserIDPath struct {
	UserID string `path:"userId" pattern:"^[A-Za-z0-9][A-Za-z0-9._~:@+=-]{0,127}$" doc:"The app's user id (as registered with POST /drive/v1/users)"`
}

// ChargingKey is one of a user's charging keys as the Drive API shows it.
type ChargingKey struct {
	ID     string `json:"id" doc:"Pass as chargingKeyId to the session history"`
	Type   string `json:"type" doc:"rfid (a card or tag presented at the charger) or virtual (the app: remote starts). Treat unknown values as rfid."`
	Status string `json:"status" doc:"ACTIVE or BLOCKED"`
	Active bool   `json:"active"`
	// UID is the idTag a charger reads from an RFID card. Virtual keys
	// have none to show: each remote start uses a one-time idTag.
	UID       *string   `json:"uid" doc:"The RFID card's idTag; null for the virtual key"`
	CreatedAt time.Time `json:"createdAt"`
}

// ChargingKeys is the list of a user's keys.
type ChargingKeys struct {
	ChargingKeys []ChargingKey `json:"chargingKeys"`
}

func (a *Drive) registerUsers() {
	const T = "Users"
	create := op("create-user", http.MethodPost, "/users", T, "Register an app user (idempotent by id)",
		"Maps the app's own user id to a Joule user (created with a wallet in the organization's currency and a virtual "+
			"charging key for remote starts). Registering the same id again returns the same user with 200; an email given "+
			"then replaces the stored one. New users answer 201.")
	create.DefaultStatus = http.StatusCreated
	huma.Register(a.hapi, create, func(ctx context.Context, in *struct{ Body UserInput }) (*struct {
		Status int
		Body   User
	}, error) {
		u, created, err := a.ensureUser(ctx, principal(ctx), in.Body)
		if err != nil {
			return nil, fail(ctx, err)
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return &struct {
			Status int
			Body   User
		}{status, u}, nil
	})
	huma.Register(a.hapi, op("get-user", http.MethodGet, "/users/{userId}", T, "Get an app user", ""),
		func(ctx context.Context, in *UserIDPath) (*Body[User], error) {
			p := principal(ctx)
			du, err := lookupUser(ctx, a.DB.Q(), p, in.UserID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			ju, err := users.Get(ctx, a.DB.Q(), p, du.UserID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return one(User{ID: du.ExternalID, Email: ju.Email, JouleUserID: du.UserID, CreatedAt: du.CreatedAt}), nil
		})
	huma.Register(a.hapi, op("list-charging-keys", http.MethodGet, "/users/{userId}/charging-keys", T, "List the user's charging keys",
		"The user's RFID keys and its virtual key (the app's key: every remote start is made with it). Joule gives each remote "+
			"start a one-time idTag on the charger, so that the charger's report names the session; those are not listed."),
		func(ctx context.Context, in *UserIDPath) (*Body[ChargingKeys], error) {
			p := principal(ctx)
			du, err := lookupUser(ctx, a.DB.Q(), p, in.UserID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			keys, err := users.Keys(ctx, a.DB.Q(), p, du.UserID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			out := ChargingKeys{ChargingKeys: []ChargingKey{}}
			for _, k := range keys {
				if k.Type == users.KeyVirtual && k.ID != du.VirtualKeyID {
					continue // a remote start's one-time tag
				}
				out.ChargingKeys = append(out.ChargingKeys, keyView(k))
			}
			return one(out), nil
		})
}

func keyView(k users.ChargingKey) ChargingKey {
	v := ChargingKey{ID: k.ID, Type: k.Type, Status: "ACTIVE", Active: k.Active, CreatedAt: k.CreatedAt.UTC()}
	if !k.Active {
		v.Status = "BLOCKED"
	}
	if k.Type != users.KeyVirtual {
		tag := k.IDTag
		v.UID = &tag
	}
	return v
}

// ensureUser registers the app's user id, or returns the user it already
// names. Two concurrent first registrations of one id race on the primary
// key: the loser's transaction (with the Joule user it made) rolls back and
// it returns the winner's user.
func (a *Drive) ensureUser(ctx context.Context, p org.Principal, in UserInput) (User, bool, error) {
	for attempt := 0; ; attempt++ {
		u, created, err := a.ensureUserOnce(ctx, p, in)
		if err != nil && store.IsUniqueViolation(err) && attempt == 0 {
			continue
		}
		return u, created, err
	}
}

func (a *Drive) ensureUserOnce(ctx context.Context, p org.Principal, in UserInput) (User, bool, error) {
	var out User
	var created bool
	err := a.DB.InTx(ctx, func(tx *store.Tx) error {
		created = false
		du, err := lookupUser(ctx, tx, p, in.ID)
		switch {
		case err == nil:
			ju, err := users.Get(ctx, tx, p, du.UserID)
			if err != nil {
				return err
			}
			if in.Email != "" && in.Email != ju.Email {
				if ju, err = a.Users.Update(ctx, tx, p, du.UserID, users.Input{Email: &in.Email}); err != nil {
					return err
				}
			}
			out = User{ID: du.ExternalID, Email: ju.Email, JouleUserID: du.UserID, CreatedAt: du.CreatedAt}
			return nil
		case !apperr.Is(err, "user_not_found"):
			return err
		}
		email := in.Email
		ju, err := a.Users.Create(ctx, tx, p, users.Input{Email: &email, Metadata: map[string]string{metadataKey: in.ID}})
		if err != nil {
			return err
		}
		key, err := users.AddKey(ctx, tx, p, ju.ID, users.NewVirtualTag(), users.KeyVirtual)
		if err != nil {
			return err
		}
		now := store.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO drive_users (org_id, test_mode, external_id, user_id, virtual_key_id, created_at)
			VALUES ($1,$2,$3,$4,$5,$6)`, p.OrgID, p.TestMode, in.ID, ju.ID, key.ID, now); err != nil {
			return fmt.Errorf("driveapi: register user: %w", err)
		}
		created = true
		out = User{ID: in.ID, Email: ju.Email, JouleUserID: ju.ID, CreatedAt: now}
		return nil
	})
	return out, created, err
}
