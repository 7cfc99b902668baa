package db

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Batcher is the batched strategy's group commit. Reserve requests for the
// same hotel that reach this server while the hotel's previous batch is
// being booked wait and form the next batch, which is booked in one
// statement (queries/batched.sql). One goroutine drains each hotel's queue
// while it is not empty; hotels do not wait for each other.
//
// Requests with an idempotency key are claimed, booked and answered inside
// the batch's transaction, so a stored outcome always matches the booking.
type Batcher struct {
	Pool *pgxpool.Pool
	// Window, when positive, lets a batch wait this long for company before
	// it is booked. Zero books as soon as the previous batch commits, which
	// already batches whatever arrived in the meantime.
	Window time.Duration
	// MaxSize caps a batch (default 256).
	MaxSize int
	// Timeout bounds one batch's transaction (default 10s).
	Timeout time.Duration
	// OnBatch, when set, is told each batch's size (metrics).
	OnBatch func(size int)

	mu     sync.Mutex
	queues map[[2]int64]*batchQueue
}

// BatchRequest is one request for the Batcher.
type BatchRequest struct {
	Book BookRequest
	// Key, when set, makes the request idempotent; Render then gives the
	// response to store for its outcome (outcomes a batch gives are all
	// final: booked, sold out, insufficient, not found).
	Key    *IdempotencyKey
	Render func(Booking, error) (StoredResponse, error)
}

// BatchResult answers a BatchRequest. For a keyed request, Response is the
// stored answer (Replayed when an earlier request with the key made it).
type BatchResult struct {
	Booking  Booking
	Err      error
	Response *StoredResponse
	Replayed bool
}

type batchQueue struct {
	pending []*batchItem
}

type batchItem struct {
	req  BatchRequest
	done chan BatchResult // buffered: the batch never waits for a reader
	// taken is set, under Batcher.mu, when a batch takes the item: from
	// then on its fate is the batch's.
	taken bool
}

// Submit queues req for its hotel's next batch and waits for its answer.
// If ctx ends before a batch took the request, it is withdrawn and nothing
// was done (ErrUnavailable). If it ends after, the batch runs to its end
// (bounded by Timeout) and Submit waits for that answer.
func (b *Batcher) Submit(ctx context.Context, req BatchRequest) BatchResult {
	item := &batchItem{req: req, done: make(chan BatchResult, 1)}
	key := [2]int64{req.Book.EventID, req.Book.HotelID}
	b.mu.Lock()
	if b.queues == nil {
		b.queues = map[[2]int64]*batchQueue{}
	}
	q, running := b.queues[key]
	if !running {
		q = &batchQueue{}
		b.queues[key] = q
	}
	q.pending = append(q.pending, item)
	b.mu.Unlock()
	if !running {
		go b.drain(key, q)
	}

	select {
	case res := <-item.done:
		return res
	case <-ctx.Done():
	}
	b.mu.Lock()
	taken := item.taken
	if !taken {
		for i, pending := range q.pending {
			if pending == item {
				q.pending = append(q.pending[:i], q.pending[i+1:]...)
				break
			}
		}
	}
	b.mu.Unlock()
	if !taken {
		return BatchResult{Err: fmt.Errorf("%w: waited for a batch: %w", ErrUnavailable, ctx.Err())}
	}
	// The batch has it: its answer comes, bounded by the batch's own
	// timeout, and is worth more than "unknown".
	return <-item.done
}

// drain books the hotel's queue, batch after batch, until it is empty.
func (b *Batcher) drain(key [2]int64, q *batchQueue) {
	for {
		if b.Window > 0 {
			time.Sleep(b.Window)
		}
		b.mu.Lock()
		if len(q.pending) == 0 {
			delete(b.queues, key)
			b.mu.Unlock()
			return
		}
		n := min(len(q.pending), b.maxSize())
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		for _, item := range batch {
			item.taken = true
		}
		b.mu.Unlock()
		b.book(batch)
	}
}

func (b *Batcher) maxSize() int {
	if b.MaxSize > 0 {
		return b.MaxSize
	}
	return 256
}

// book runs one batch and answers every item. The batch does not run on
// any request's context: once taken, it completes.
func (b *Batcher) book(batch []*batchItem) {
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if b.OnBatch != nil {
		b.OnBatch(len(batch))
	}
	results := make([]BatchResult, len(batch))
	var err error
	if hasKeys(batch) {
		err = withConn(ctx, b.Pool, func(conn *pgxpool.Conn) error {
			return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				return uncommitted(bookKeyedBatch(ctx, New(tx), batch, results))
			})
		})
	} else {
		err = withConn(ctx, b.Pool, func(conn *pgxpool.Conn) error {
			return bookPlainBatch(ctx, New(conn), batch, results)
		})
	}
	for i, item := range batch {
		if err != nil {
			results[i] = BatchResult{Err: fmt.Errorf("batch of %d: %w", len(batch), classifyWrite(err))}
		}
		item.done <- results[i]
	}
}

func hasKeys(batch []*batchItem) bool {
	for _, item := range batch {
		if item.req.Key != nil {
			return true
		}
	}
	return false
}

// bookPlainBatch books a batch without keys: one statement, one round trip.
func bookPlainBatch(ctx context.Context, q *Queries, batch []*batchItem, results []BatchResult) error {
	reqs := make([]BookRequest, len(batch))
	for i, item := range batch {
		reqs[i] = item.req.Book
	}
	outcomes, err := bookBatch(ctx, q, reqs)
	if err != nil {
		return err
	}
	for i, o := range outcomes {
		results[i] = BatchResult{Booking: o.booking, Err: o.err}
	}
	return nil
}

// bookKeyedBatch books a batch in which some requests carry keys, inside
// one transaction: lock and claim the keys, replay the ones used before,
// book the rest in one statement, store the keyed outcomes.
func bookKeyedBatch(ctx context.Context, q *Queries, batch []*batchItem, results []BatchResult) error {
	var keys, fingerprints []string
	seen := map[string]bool{}
	var keep time.Duration
	for i, item := range batch {
		k := item.req.Key
		if k == nil {
			continue
		}
		if seen[k.Key] {
			// The same key twice in one batch: a resend of a request this
			// very batch is booking.
			results[i].Err = ErrRequestInProgress
			continue
		}
		seen[k.Key] = true
		keys = append(keys, k.Key)
		fingerprints = append(fingerprints, k.Fingerprint)
		keep = max(keep, k.Keep)
	}
	locked, err := q.TryLockIdempotencyKeys(ctx, keys)
	if err != nil {
		return fmt.Errorf("lock keys: %w", err)
	}
	lockedSet := setOf(locked)
	var claimKeys, claimFingerprints []string
	for i, k := range keys {
		if lockedSet[k] {
			claimKeys = append(claimKeys, k)
			claimFingerprints = append(claimFingerprints, fingerprints[i])
		}
	}
	claimed, err := q.ClaimIdempotencyKeys(ctx, ClaimIdempotencyKeysParams{
		Keys: claimKeys, Fingerprints: claimFingerprints, TtlSeconds: int32(keep / time.Second),
	})
	if err != nil {
		return fmt.Errorf("claim keys: %w", err)
	}
	claimedSet := setOf(claimed)
	stored, err := q.GetIdempotentResponses(ctx, unclaimed(claimKeys, claimedSet))
	if err != nil {
		return fmt.Errorf("read stored responses: %w", err)
	}
	storedByKey := map[string]GetIdempotentResponsesRow{}
	for _, s := range stored {
		storedByKey[s.Key] = s
	}

	// Decide each keyed item's path; the rest (and claimed keys) are booked.
	var toBook []int
	for i, item := range batch {
		k := item.req.Key
		switch {
		case results[i].Err != nil:
		case k == nil || claimedSet[k.Key]:
			toBook = append(toBook, i)
		case !lockedSet[k.Key]:
			results[i].Err = ErrRequestInProgress
		default:
			s, ok := storedByKey[k.Key]
			switch {
			case !ok:
				// Cannot happen while the claim locks existing rows; if it
				// does, this request alone is told to try again.
				results[i].Err = ErrRequestInProgress
			case s.Fingerprint != k.Fingerprint:
				results[i].Err = ErrKeyReused
			default:
				results[i] = BatchResult{Response: &StoredResponse{Status: int(s.Status), Body: s.Body}, Replayed: true}
			}
		}
	}
	if len(toBook) == 0 {
		return nil
	}
	reqs := make([]BookRequest, len(toBook))
	for j, i := range toBook {
		reqs[j] = batch[i].req.Book
	}
	outcomes, err := bookBatch(ctx, q, reqs)
	if err != nil {
		return err
	}
	var storeKeys []string
	var statuses []int32
	var bodies [][]byte
	for j, i := range toBook {
		results[i] = BatchResult{Booking: outcomes[j].booking, Err: outcomes[j].err}
		k := batch[i].req.Key
		if k == nil {
			continue
		}
		resp, err := batch[i].req.Render(outcomes[j].booking, outcomes[j].err)
		if err != nil {
			return fmt.Errorf("render the outcome of key %q: %w", k.Key, err)
		}
		results[i].Response = &resp
		storeKeys = append(storeKeys, k.Key)
		statuses = append(statuses, int32(resp.Status))
		bodies = append(bodies, resp.Body)
	}
	if err := q.StoreIdempotentResponses(ctx, StoreIdempotentResponsesParams{Keys: storeKeys, Statuses: statuses, Bodies: bodies}); err != nil {
		return fmt.Errorf("store responses: %w", err)
	}
	return nil
}

func setOf(values []string) map[string]bool {
	set := make(map[string]bool, len(values))
	for _, v := range values {
		set[v] = true
	}
	return set
}

func unclaimed(keys []string, claimed map[string]bool) []string {
	var rest []string
	for _, k := range keys {
		if !claimed[k] {
			rest = append(rest, k)
		}
	}
	return rest
}
