package labdb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
)

// Credential is a simulated client's API key and the client it names.
type Credential struct {
	Key    string
	Client evento.ClientID
}

// AddClients makes n API clients, named prefix-1 to prefix-n, with new
// keys, in one transaction: a run with --auth gives each simulated client
// its own.
func AddClients(ctx context.Context, pool *pgxpool.Pool, prefix string, n int) ([]Credential, error) {
	creds := make([]Credential, n)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for i := range creds {
			c, key, err := db.CreateClient(ctx, tx, fmt.Sprintf("%s-%d", prefix, i+1), 0, 0)
			if err != nil {
				return err
			}
			creds[i] = Credential{Key: key, Client: c.ID}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add %d simulated clients: %w", n, err)
	}
	return creds, nil
}
