package db

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// BatchOptions tune the group commit of batched strategies.
type BatchOptions struct {
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
}

// Batcher is a batched strategy's group commit. Reserve requests for the
// same hotel that reach this server while the hotel's previous batch is
// being booked wait and form the next batch, which is booked as one
// transaction (transact, engine.go): keys claimed and outcomes stored in it;
// or, for a batch with keys, first as one autocommit statement that claims
// them itself (fastPath).
// One goroutine drains each hotel's queue while it is not empty; hotels do
// not wait for each other.
type Batcher struct {
	opts        BatchOptions
	engine      *engine
	strategy    Strategy
	beforeWrite func(context.Context)

	mu     sync.Mutex
	queues map[[2]int64]*batchQueue
}

func newBatcher(opts BatchOptions, e *engine, strategy Strategy, beforeWrite func(context.Context)) *Batcher {
	if opts.MaxSize <= 0 {
		opts.MaxSize = 256
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	return &Batcher{opts: opts, engine: e, strategy: strategy, beforeWrite: beforeWrite, queues: map[[2]int64]*batchQueue{}}
}

type batchQueue struct {
	pending []*batchItem
}

type batchItem struct {
	req  evento.BookRequest
	key  *evento.IdempotencyKey
	done chan result[evento.Booking] // buffered: the batch never waits for a reader
	// taken is set, under Batcher.mu, when a batch takes the item: from
	// then on its fate is the batch's.
	taken bool
}

// Submit queues req for its hotel's next batch and waits for its answer.
// If ctx ends before a batch took the request, it is withdrawn and nothing
// was done (ErrUnavailable). If it ends after, the batch runs to its end
// (bounded by Timeout) and Submit waits for that answer.
func (b *Batcher) Submit(ctx context.Context, req evento.BookRequest, key *evento.IdempotencyKey) result[evento.Booking] {
	item := &batchItem{req: req, key: key, done: make(chan result[evento.Booking], 1)}
	hotel := [2]int64{req.EventID, req.HotelID}
	b.mu.Lock()
	q, running := b.queues[hotel]
	if !running {
		q = &batchQueue{}
		b.queues[hotel] = q
	}
	q.pending = append(q.pending, item)
	b.mu.Unlock()
	if !running {
		go b.drain(hotel, q)
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
		return result[evento.Booking]{err: fmt.Errorf("%w: waited for a batch: %w", evento.ErrUnavailable, ctx.Err())}
	}
	// The batch has it: its answer comes, bounded by the batch's own
	// timeout, and is worth more than "unknown".
	return <-item.done
}

// drain books the hotel's queue, batch after batch, until it is empty.
func (b *Batcher) drain(hotel [2]int64, q *batchQueue) {
	for {
		if b.opts.Window > 0 {
			time.Sleep(b.opts.Window)
		}
		b.mu.Lock()
		if len(q.pending) == 0 {
			delete(b.queues, hotel)
			b.mu.Unlock()
			return
		}
		n := min(len(q.pending), b.opts.MaxSize)
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		for _, item := range batch {
			item.taken = true
		}
		b.mu.Unlock()
		b.run(batch)
	}
}

// run books one batch and answers every item. The batch does not run on
// any request's context: once taken, it completes.
func (b *Batcher) run(batch []*batchItem) {
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.Timeout)
	defer cancel()
	if b.opts.OnBatch != nil {
		b.opts.OnBatch(len(batch))
	}
	reqs := make([]evento.BookRequest, len(batch))
	keys := make([]*evento.IdempotencyKey, len(batch))
	for i, item := range batch {
		reqs[i], keys[i] = item.req, item.key
	}
	policy := b.strategy.policy()
	if anyLimited(reqs...) {
		policy = policy.inTransaction()
	}
	results, done, err := b.fastPath(ctx, policy, reqs, keys)
	if !done && err == nil {
		// raced: a batch cannot tell which of its requests' writes raced
		// before, so it looks for every key everywhere.
		results, err = transact(ctx, b.engine, policy, true, keys, func(ctx context.Context, tx dbsqlc.DBTX, todo []int) ([]evento.Outcome[evento.Booking], error) {
			return book(ctx, b.engine.q, tx, b.strategy, pick(reqs, todo), pick(keys, todo), b.beforeWrite)
		})
	}
	for i, item := range batch {
		if err != nil {
			item.done <- result[evento.Booking]{err: fmt.Errorf("batch of %d: %w", len(batch), err)}
			continue
		}
		item.done <- results[i]
	}
}

// fastPath runs the strategy's BookBatchKeyed for a batch with keys
// (fastpath.go): the one statement that, when it commits, answers every
// request of the batch. done is false when there is none to run (no key,
// or a limited client, whose count needs the transaction), or it
// committed nothing; the batch then takes the general path, whole.
func (b *Batcher) fastPath(ctx context.Context, policy txPolicy, reqs []evento.BookRequest, keys []*evento.IdempotencyKey) (results []result[evento.Booking], done bool, err error) {
	if !hasKey(keys) || b.strategy.BookBatchKeyed == nil || policy.tx != nil {
		return nil, false, nil
	}
	var bookings []evento.Booking
	done, err = runFastPath(ctx, b.engine.pool, b.strategy, b.beforeWrite, func(st Statements) (done bool, err error) {
		bookings, done, err = b.strategy.BookBatchKeyed(ctx, st, reqs, keys)
		return done, err
	})
	if err != nil || !done {
		return nil, false, err
	}
	results = make([]result[evento.Booking], len(bookings))
	for i, booking := range bookings {
		results[i].outcome = evento.Done(booking)
	}
	return results, true, nil
}
