package cluster

import (
	"context"
	"fmt"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ServerStats is what the servers counted that the clients cannot see,
// summed over every server from their /metrics. (lab/report shows it as
// its own ServerStats, so that presenting needs nothing of this package.)
type ServerStats struct {
	// Reruns are transactions rerun inside the servers, by the strategies
	// whose db.Strategy.Attempts is above 1, before anything reached the
	// client.
	Reruns float64 `json:"reruns"`
	// Batches and BatchedRequests describe group commit (batched).
	Batches         float64 `json:"batches"`
	BatchedRequests float64 `json:"batched_requests"`
}

// Sub is what happened between two scrapes of the same servers.
func (s ServerStats) Sub(before ServerStats) ServerStats {
	return ServerStats{
		Reruns:          s.Reruns - before.Reruns,
		Batches:         s.Batches - before.Batches,
		BatchedRequests: s.BatchedRequests - before.BatchedRequests,
	}
}

// ScrapeServerStats reads and sums the servers' metrics from their admin
// URLs (Cluster.AdminURLs).
func ScrapeServerStats(ctx context.Context, admins []string) (ServerStats, error) {
	var total ServerStats
	for _, admin := range admins {
		families, err := scrape(ctx, admin+"/metrics")
		if err != nil {
			return ServerStats{}, err
		}
		// The getters read a missing family or value as empty.
		for _, m := range families["evento_transaction_reruns_total"].GetMetric() {
			total.Reruns += m.GetCounter().GetValue()
		}
		for _, m := range families["evento_batch_size"].GetMetric() {
			total.Batches += float64(m.GetHistogram().GetSampleCount())
			total.BatchedRequests += m.GetHistogram().GetSampleSum()
		}
	}
	return total, nil
}

func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	return families, nil
}
