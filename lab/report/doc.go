// Package report presents what the lab found: a run's report as text or
// JSON, the comparison of strategies as a table, JSON and one offline HTML
// page, evento bench's table, and live progress while clients run. It
// computes no verdict (lab/checker does) and never reads the database: its
// types are plain data, so it can be rendered anywhere.
package report
