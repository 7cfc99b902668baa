package lab

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evento-lab/evento/lab/faultproxy"
)

// replyLosers are reply-losing proxies, one in front of each server of a
// load: the nemesis's target when the lab did not start the servers and
// can only break what lies between them and the clients.
type replyLosers []*faultproxy.HTTP

func startReplyLosers(servers []string) (replyLosers, error) {
	var proxies replyLosers
	for _, s := range servers {
		p, err := faultproxy.StartHTTP(s)
		if err != nil {
			return nil, errors.Join(err, proxies.Close())
		}
		proxies = append(proxies, p)
	}
	return proxies, nil
}

// URLs are where the clients send their requests instead of the servers.
func (ps replyLosers) URLs() []string {
	urls := make([]string, len(ps))
	for i, p := range ps {
		urls[i] = p.URL()
	}
	return urls
}

// LoseReplies loses every server's answers to POSTs for window.
func (ps replyLosers) LoseReplies(ctx context.Context, window time.Duration) (int, error) {
	var wg sync.WaitGroup
	var lost atomic.Int64
	for _, p := range ps {
		wg.Go(func() { lost.Add(int64(p.LoseReplies(ctx, window))) })
	}
	wg.Wait()
	return int(lost.Load()), nil
}

// Close stops every proxy.
func (ps replyLosers) Close() error {
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}
