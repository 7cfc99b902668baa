package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/evento-lab/evento/lab/checker"
)

// closeEnough is how near, as a fraction of the fastest's rate, a
// strategy must come to be called "within" it: about what one noisy
// machine moves between two runs of the same strategy.
const closeEnough = 0.05

// recommend answers "which one?" from the ranked rows alone: the fastest
// safe strategy and its price, how each other safe one compared and what
// it paid, when another would be the better choice, whether the rounds'
// spread lets the ranking stand, and why the unsafe ones are not ranked.
// Every sentence comes from a number in the rows, so a rerun that
// measures differently recommends differently.
func recommend(rows []ComparisonRow, rounds int) []string {
	var safe, unsafe []ComparisonRow
	for _, r := range rows {
		if r.Safe() {
			safe = append(safe, r)
		} else {
			unsafe = append(unsafe, r)
		}
	}
	var out []string
	if len(safe) == 0 {
		if len(rows) == 0 {
			return []string{"Nothing ran, so there is nothing to recommend."}
		}
		return append(out, fmt.Sprintf("No strategy was safe (%s): none can be recommended; the anomalies say what went wrong.", verdictList(unsafe)))
	}
	best := safe[0]
	out = append(out, fmt.Sprintf("%s was the fastest safe strategy: %s rooms/s correctly sold%s, sold out in %s, p99 %s ms%s.",
		best.Strategy, formatNumber(best.RoomsPerSecond, 0), spreadText(best, rounds), selloutText(best),
		formatNumber(best.P99Ms, 1), costText(best)))
	inconclusive := false
	for _, r := range safe[1:] {
		var s string
		ratio := 0.0
		if r.RatioToFastestSafe != nil {
			ratio = *r.RatioToFastestSafe
		}
		overlap := rounds > 1 && overlaps(r, best)
		switch {
		case overlap:
			s = fmt.Sprintf("%s: %s rooms/s%s", r.Strategy, formatNumber(r.RoomsPerSecond, 0), spreadText(r, rounds))
		case ratio >= 1-closeEnough:
			s = fmt.Sprintf("%s was within %.0f%% (%s rooms/s%s)", r.Strategy, math.Ceil((1-ratio)*100), formatNumber(r.RoomsPerSecond, 0), spreadText(r, rounds))
		default:
			s = fmt.Sprintf("%s reached %.2fx (%s rooms/s%s)", r.Strategy, ratio, formatNumber(r.RoomsPerSecond, 0), spreadText(r, rounds))
		}
		s += fmt.Sprintf(", p99 %s ms", formatNumber(r.P99Ms, 1)) + costText(r)
		if overlap {
			inconclusive = true
			s += fmt.Sprintf("; its range overlaps %s's, so the difference is within the spread: not conclusive", best.Strategy)
		}
		out = append(out, s+".")
	}
	if rounds > 1 {
		out = append(out, overlappingGroups(safe[1:])...)
	}
	out = append(out, alternatives(best, safe)...)
	switch {
	case rounds <= 1 && len(safe) > 1:
		out = append(out, "One round only: no spread was measured, so a difference of a few percent may be noise; --rounds 3 or more tells.")
	case inconclusive:
		out = append(out, fmt.Sprintf("Not conclusive: over %d rounds the ranges of the strategies marked above overlap %s's; more rounds, or a quieter machine, could decide.", rounds, best.Strategy))
	case rounds > 1 && len(safe) > 1:
		out = append(out, fmt.Sprintf("Over %d rounds no other safe strategy's range reached %s's: its first place held in every round.", rounds, best.Strategy))
	}
	for _, r := range unsafe {
		why := map[string]string{
			checker.Overbooked:   "so its speed was paid for with rooms that do not exist",
			checker.Inconsistent: "so its speed was paid for with wrong answers",
		}[r.Verdict]
		out = append(out, fmt.Sprintf("%s is not ranked: its verdict was %s, %s.",
			r.Strategy, r.Verdict, cmp.Or(why, "so its runs say nothing safe about its speed")))
	}
	return out
}

// alternatives says when another safe strategy would be the better
// choice: when the fastest batches (requests wait for a batch), when its
// tail is long, when it makes clients retry.
func alternatives(best ComparisonRow, safe []ComparisonRow) []string {
	var out []string
	// best is safe[0], so when it batches the first that does not is another.
	unbatched := slices.IndexFunc(safe, func(r ComparisonRow) bool { return r.MeanBatchSize == 0 })
	if best.MeanBatchSize > 0 && unbatched >= 0 {
		out = append(out, fmt.Sprintf("%s batches (%s requests a transaction): each request waits for the batch ahead to commit; without batching, %s was the fastest, at %s of %s's rate.",
			best.Strategy, formatMeanBatch(best.MeanBatchSize), safe[unbatched].Strategy, percent(safe[unbatched]),
			best.Strategy))
	}
	lowest := best
	for _, r := range safe {
		if r.P99Ms < lowest.P99Ms {
			lowest = r
		}
	}
	if lowest.Strategy != best.Strategy && lowest.P99Ms < 0.8*best.P99Ms {
		out = append(out, fmt.Sprintf("If the slowest answers matter more than throughput, %s had the shortest tail: p99 %s ms against %s ms, at %s of the rate.",
			lowest.Strategy, formatNumber(lowest.P99Ms, 1), formatNumber(best.P99Ms, 1), percent(lowest)))
	}
	calm := slices.IndexFunc(safe, func(r ComparisonRow) bool { return r.Conflicts == 0 })
	if best.Conflicts > 0 && calm >= 0 {
		out = append(out, fmt.Sprintf("If clients cannot retry, %s sent none back (no conflicts), at %s of the rate.",
			safe[calm].Strategy, percent(safe[calm])))
	}
	return out
}

// overlappingGroups names the runs of consecutive ranks whose ranges
// overlap one another: the rounds do not order them either.
func overlappingGroups(ranked []ComparisonRow) []string {
	var out []string
	end := 0 // the previous group ended before ranked[end]
	for i := range ranked {
		// Only ranges that share one rate among them all are a group: a
		// chain (a overlaps b, b overlaps c, c clear of a) is two groups,
		// since a and c were told apart in every round.
		lo, hi := ranked[i].RoomsPerSecondMin, ranked[i].RoomsPerSecondMax
		j := i + 1
		for ; j < len(ranked); j++ {
			lo, hi = max(lo, ranked[j].RoomsPerSecondMin), min(hi, ranked[j].RoomsPerSecondMax)
			if lo > hi {
				break
			}
		}
		if j-i < 2 || j <= end {
			continue // alone, or inside the group already said
		}
		end = j
		names := make([]string, 0, j-i)
		for _, r := range ranked[i:j] {
			names = append(names, r.Strategy)
		}
		out = append(out, fmt.Sprintf("The ranges of %s and %s overlap: their order among themselves is not conclusive.",
			strings.Join(names[:len(names)-1], ", "), names[len(names)-1]))
	}
	return out
}

func percent(r ComparisonRow) string {
	if r.RatioToFastestSafe == nil {
		return "an unknown share"
	}
	return fmt.Sprintf("%.0f%%", *r.RatioToFastestSafe*100)
}

// overlaps is whether two strategies' rates over the rounds overlap: then
// the rounds do not say which is faster.
func overlaps(a, b ComparisonRow) bool {
	return a.RoomsPerSecondMax >= b.RoomsPerSecondMin && b.RoomsPerSecondMax >= a.RoomsPerSecondMin
}

func spreadText(r ComparisonRow, rounds int) string {
	if rounds <= 1 {
		return ""
	}
	return fmt.Sprintf(", median of %d rounds, range %s-%s", rounds, formatNumber(r.RoomsPerSecondMin, 0), formatNumber(r.RoomsPerSecondMax, 0))
}

func selloutText(r ComparisonRow) string {
	if r.SelloutSeconds == nil {
		return "no sell-out"
	}
	return formatNumber(*r.SelloutSeconds, 2) + " s"
}

// costText is what the strategy made others pay: conflicts sent back to
// the clients, transactions rerun inside the servers, errors.
func costText(r ComparisonRow) string {
	var costs []string
	if r.Conflicts > 0 {
		costs = append(costs, fmt.Sprintf("%s conflicts (%s client retries)", formatInt(r.Conflicts), formatInt(r.Retries)))
	}
	if r.ServerRetries > 0 {
		costs = append(costs, fmt.Sprintf("%s transactions rerun in the servers", formatInt(r.ServerRetries)))
	}
	if r.Errors > 0 {
		costs = append(costs, fmt.Sprintf("%s errors", formatInt(r.Errors)))
	}
	if len(costs) == 0 {
		return ", no conflicts"
	}
	return "; it paid " + strings.Join(costs, " and ")
}

func verdictList(rows []ComparisonRow) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = r.Strategy + " " + r.Verdict
	}
	return strings.Join(parts, ", ")
}

// BySituation answers "which one for me?" in the README's words, with this
// comparison's figures: for each strategy that ran, in the order of the
// table, the situation to choose it in (when, by strategy) and what it
// did here.
func BySituation(rows []ComparisonRow, when map[string]string) []string {
	var out []string
	for _, r := range rows {
		situation, ok := when[r.Strategy]
		if !ok {
			continue
		}
		here := fmt.Sprintf("%s rooms/s here", formatNumber(r.RoomsPerSecond, 0))
		switch {
		case !r.Safe():
			here = r.Verdict + " here"
		case r.RatioToFastestSafe != nil && *r.RatioToFastestSafe < 1:
			here += fmt.Sprintf(", %s of the fastest", percent(r))
		default:
			here += ", the fastest"
		}
		if len(out) == 0 {
			out = append(out, "Which one for you (the README's words: when → use):")
		}
		out = append(out, fmt.Sprintf("%s → %s: %s.", situation, r.Strategy, here))
	}
	return out
}
