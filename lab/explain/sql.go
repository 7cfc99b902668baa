package explain

import (
	sqldriver "database/sql/driver"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evento-lab/evento/queries"
)

// Stmt is one statement a session sends. For a statement of queries/ it
// is the text under "-- name: Name" in File, with each parameter replaced
// by its value as a SQL literal: what Evento runs and what a spec holds
// are then the same bytes, and the file stays the one source of the SQL.
type Stmt struct {
	Name   string  `json:"name,omitempty"` // sqlc's name; empty for BEGIN, COMMIT, ROLLBACK
	File   string  `json:"file,omitempty"` // e.g. queries/naive.sql
	Params []Param `json:"params,omitempty"`
	SQL    string  `json:"sql"`
}

// Param is a bound parameter, its value as the literal written into SQL.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// raw builds a statement that is not in queries/ (transaction control).
func raw(sql string) Stmt { return Stmt{SQL: sql} }

// parameter matches sqlc's parameter forms: @name, sqlc.arg(name) and
// sqlc.narg('name'). x'45564e54' and the like are not parameters.
var parameter = regexp.MustCompile(`sqlc\.n?arg\('?([a-z_][a-z0-9_]*)'?\)|@([a-z_][a-z0-9_]*)`)

// named returns the statement called name in queries/, bound to params.
// Every parameter the statement uses must be given, and every one given
// must be used: a typo fails here rather than running something else.
func named(name string, params map[string]any) (Stmt, error) {
	q, err := lookup(name)
	if err != nil {
		return Stmt{}, err
	}
	return q.bind(name, params)
}

func (q query) bind(name string, params map[string]any) (Stmt, error) {
	stmt := Stmt{Name: name, File: "queries/" + q.file}
	used := map[string]bool{}
	var missing []string
	stmt.SQL = parameter.ReplaceAllStringFunc(q.text, func(m string) string {
		sub := parameter.FindStringSubmatch(m)
		p := sub[1] + sub[2]
		v, ok := params[p]
		if !ok {
			missing = append(missing, p)
			return m
		}
		lit, err := literal(v)
		if err != nil {
			missing = append(missing, p+" ("+err.Error()+")")
			return m
		}
		if !used[p] {
			stmt.Params = append(stmt.Params, Param{Name: p, Value: lit})
		}
		used[p] = true
		return lit
	})
	if len(missing) > 0 {
		return Stmt{}, fmt.Errorf("bind %s: no value for %s", name, strings.Join(missing, ", "))
	}
	for p := range params {
		if !used[p] {
			return Stmt{}, fmt.Errorf("bind %s: it has no parameter %s", name, p)
		}
	}
	return stmt, nil
}

// mustNamed is named for the statements fixed in this package's code: a
// failure is a bug that the tests of every scenario find at once.
func mustNamed(name string, params map[string]any) Stmt {
	s, err := named(name, params)
	if err != nil {
		panic(err)
	}
	return s
}

// query is a statement of queries/, cut from its file once.
type query struct {
	file   string
	text   string   // without its comments, ending with its semicolon
	params []string // its parameters' names, each once, in the order each first appears
}

// queryCache holds lookup's answers by name: the sessions' goroutines
// send the same statements over and over.
var queryCache sync.Map

// lookup finds the statement under "-- name: <name> ..." in queries/.
func lookup(name string) (query, error) {
	if q, ok := queryCache.Load(name); ok {
		return q.(query), nil
	}
	file, ok := queries.FileOf(name)
	var text string
	if ok {
		text, ok = queries.Statement(file, name)
	}
	if !ok {
		return query{}, fmt.Errorf("no statement named %s in queries/", name)
	}
	q := query{file: file, text: text + ";"}
	q.params = firstAppearances(parameter, q.text)
	queryCache.Store(name, q)
	return q, nil
}

// sent is the statement a subject's Go code sent: sqlc's constant (first
// line "-- name: Name :kind") and its positional arguments. Its parameters
// are queries/' @names, paired with sqlc's $n in the order each first
// appears (sqlc numbers them in another order); its SQL is the text sent,
// each $n written in as a literal, laid out as named lays out queries/'.
// Other SQL (a savepoint) is sent as it is and must have no arguments.
func sent(sql string, args []any) (Stmt, error) {
	header, body, _ := strings.Cut(sql, "\n")
	rest, ok := strings.CutPrefix(header, "-- name: ")
	if !ok {
		if len(args) > 0 {
			return Stmt{}, fmt.Errorf("bind %s: arguments for a statement that is not in queries/", oneLine(sql))
		}
		return raw(queries.Layout(sql) + ";"), nil
	}
	name, _, _ := strings.Cut(rest, " ")
	q, err := lookup(name)
	if err != nil {
		return Stmt{}, err
	}
	names, order := q.params, firstAppearances(placeholder, body)
	if len(order) != len(names) || len(order) != len(args) {
		return Stmt{}, fmt.Errorf("bind %s: %d placeholders and %d arguments for %d parameters", name, len(order), len(args), len(names))
	}
	params, literals := map[string]any{}, map[string]string{}
	for i, p := range order {
		n, _ := strconv.Atoi(strings.TrimPrefix(p, "$"))
		if n < 1 || n > len(args) {
			return Stmt{}, fmt.Errorf("bind %s: no argument for %s", name, p)
		}
		params[names[i]] = args[n-1]
		literals[p], _ = literal(args[n-1]) // named below says when one has none
	}
	stmt, err := q.bind(name, params)
	if err != nil {
		return Stmt{}, err
	}
	stmt.SQL = placeholder.ReplaceAllStringFunc(queries.Layout(body)+";", func(p string) string { return literals[p] })
	return stmt, nil
}

// placeholder is a positional parameter in sqlc's SQL.
var placeholder = regexp.MustCompile(`\$[0-9]+`)

// firstAppearances lists what re matches in text (its groups, or the
// whole match when it has none), each once, in the order each first appears.
func firstAppearances(re *regexp.Regexp, text string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		p := m[0]
		if len(m) > 1 {
			p = strings.Join(m[1:], "")
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// literal writes a Go value as a SQL literal.
func literal(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "NULL", nil
	case time.Time:
		// As PostgreSQL prints a timestamptz in the sessions' UTC and ISO
		// style, so that a value read and sent back prints as it was read.
		return quote(v.UTC().Format("2006-01-02 15:04:05.999999") + "+00"), nil
	case sqldriver.Valuer:
		value, err := v.Value()
		if err != nil {
			return "", fmt.Errorf("no literal for %T: %w", v, err)
		}
		return literal(value)
	case bool:
		return strconv.FormatBool(v), nil
	case string:
		return quote(v), nil
	}
	switch rv := reflect.ValueOf(v); {
	case rv.CanInt():
		return strconv.FormatInt(rv.Int(), 10), nil
	case rv.Kind() == reflect.Slice:
		items := make([]string, rv.Len())
		for i := range items {
			var err error
			if items[i], err = literal(rv.Index(i).Interface()); err != nil {
				return "", err
			}
		}
		return "ARRAY[" + strings.Join(items, ", ") + "]", nil
	}
	return "", fmt.Errorf("no literal for %T", v)
}

// quote is a string literal. A closing brace ends a step in an isolation
// spec wherever it is, so a value holding one (a JSON outcome) is written
// as an escape string with the brace as \x7d; Evento runs that same text.
func quote(s string) string {
	s = strings.ReplaceAll(s, "'", "''")
	if !strings.Contains(s, "}") {
		return "'" + s + "'"
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "E'" + strings.ReplaceAll(s, "}", `\x7d`) + "'"
}

// oneLine collapses a statement's layout for the text timeline; the spec
// keeps the file's lines.
func oneLine(sql string) string {
	return strings.Join(strings.Fields(sql), " ")
}
