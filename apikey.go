package evento

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// APIClient is a client known by its API key (a server started with
// --auth keys).
type APIClient struct {
	ID   ClientID
	Name string
	// MaxHeldRooms is this client's own cap on rooms held at once; 0 when
	// the server's cap applies.
	MaxHeldRooms int32
	// MaxRoomsPerEvent is this client's own limit on rooms it may have at
	// one event, booked or held; 0 when the server's limit applies.
	MaxRoomsPerEvent int32
}

// apiKeyPrefix marks an Evento API key, so a leaked one is recognisable
// (secret scanners, logs) the way Stripe's sk_ keys are.
const apiKeyPrefix = "evk_"

// NewAPIKey draws a new API key: 256 bits from crypto/rand.
func NewAPIKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("draw an API key: %w", err)
	}
	return apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashAPIKey is what the database keeps of a key. The key is 256 random
// bits, so a fast hash suffices: there is no password to brute-force.
func HashAPIKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// ScopedKey is the idempotency key as stored: each client's keys live in
// their own namespace, so two clients may use the same key, and nobody can
// squat, or replay, someone else's.
func ScopedKey(client ClientID, key string) string {
	if client == Anonymous {
		return key
	}
	return fmt.Sprintf("c%d:%s", client, key)
}
