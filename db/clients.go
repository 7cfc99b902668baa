package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// Authenticate finds the live API client whose key hashes to keyHash.
func (s *Store) Authenticate(ctx context.Context, keyHash []byte) (evento.APIClient, error) {
	return ClientByKey(ctx, s.pool, keyHash)
}

// ClientByKey finds the live API client whose key hashes to keyHash;
// evento.ErrUnauthenticated when there is none.
func ClientByKey(ctx context.Context, conn dbsqlc.DBTX, keyHash []byte) (evento.APIClient, error) {
	row, err := dbsqlc.New().ClientByKeyHash(ctx, conn, keyHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return evento.APIClient{}, evento.ErrUnauthenticated
	}
	if err != nil {
		return evento.APIClient{}, fmt.Errorf("authenticate: %w", classify(err))
	}
	return evento.APIClient{
		ID: evento.ClientID(row.ID), Name: row.Name,
		MaxHeldRooms: row.MaxHeldRooms.Int32, MaxRoomsPerEvent: row.MaxRoomsPerEvent.Int32,
	}, nil
}

// ClientRecord is an API client as `evento clients list` shows it.
type ClientRecord struct {
	ID           int64  `json:"id"`
	Name         string `json:"client"`
	MaxHeldRooms *int32 `json:"max_held_rooms"` // nil: the server's cap
	// MaxRoomsPerEvent is nil when the server's limit applies.
	MaxRoomsPerEvent *int32     `json:"max_rooms_per_event"`
	HeldRooms        int32      `json:"held_rooms"`
	CreatedAt        time.Time  `json:"created_at"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
}

// ErrClientExists refuses a second client of the same name.
var ErrClientExists = errors.New("a client of that name exists")

// CreateClient stores a new API client with a new key, and returns both;
// only the key's hash is stored, so the key is never seen again.
// maxHeldRooms 0 leaves the client the server's cap, maxRoomsPerEvent 0
// the server's limit per event.
func CreateClient(ctx context.Context, conn dbsqlc.DBTX, name string, maxHeldRooms, maxRoomsPerEvent int32) (evento.APIClient, string, error) {
	key, err := evento.NewAPIKey()
	if err != nil {
		return evento.APIClient{}, "", err
	}
	row, err := dbsqlc.New().CreateClient(ctx, conn, dbsqlc.CreateClientParams{
		Name: name, KeyHash: evento.HashAPIKey(key),
		MaxHeldRooms:     pgtype.Int4{Int32: maxHeldRooms, Valid: maxHeldRooms > 0},
		MaxRoomsPerEvent: pgtype.Int4{Int32: maxRoomsPerEvent, Valid: maxRoomsPerEvent > 0},
	})
	if isUniqueViolation(err) {
		return evento.APIClient{}, "", fmt.Errorf("add client %q: %w", name, ErrClientExists)
	}
	if err != nil {
		return evento.APIClient{}, "", fmt.Errorf("add client %q: %w", name, err)
	}
	return evento.APIClient{ID: evento.ClientID(row.ID), Name: name, MaxHeldRooms: maxHeldRooms, MaxRoomsPerEvent: maxRoomsPerEvent}, key, nil
}

// ListClients lists every API client, revoked ones included.
func ListClients(ctx context.Context, conn dbsqlc.DBTX) ([]ClientRecord, error) {
	rows, err := dbsqlc.New().ListClients(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	out := make([]ClientRecord, len(rows))
	for i, r := range rows {
		out[i] = ClientRecord{ID: r.ID, Name: r.Name, HeldRooms: r.HeldRooms, CreatedAt: r.CreatedAt}
		if r.MaxHeldRooms.Valid {
			out[i].MaxHeldRooms = &r.MaxHeldRooms.Int32
		}
		if r.MaxRoomsPerEvent.Valid {
			out[i].MaxRoomsPerEvent = &r.MaxRoomsPerEvent.Int32
		}
		if r.RevokedAt.Valid {
			out[i].RevokedAt = &r.RevokedAt.Time
		}
	}
	return out, nil
}

// RevokeClient stops a client's key and releases its holds at once, and
// returns how many rooms came back; ok is false when no live client has
// name.
func RevokeClient(ctx context.Context, conn dbsqlc.DBTX, name string) (released int32, ok bool, err error) {
	row, err := dbsqlc.New().RevokeClient(ctx, conn, name)
	if err != nil {
		return 0, false, fmt.Errorf("revoke client %q: %w", name, err)
	}
	return row.RoomsReleased, row.Revoked > 0, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation
}
