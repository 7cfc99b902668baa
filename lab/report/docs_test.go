package report_test

import (
	"cmp"
	"encoding"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/evento-lab/evento/lab/report"
)

// docs/commands.md lists every field of the --json report, a struct's
// fields in braces after it and a list marked [], so a field added to the
// report without a word to its readers fails here by name, as does one
// the docs promise and the report lacks.
func TestCommandsDocListsEveryReportField(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/commands.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(doc), "JSON object on stdout instead, with `")
	if !ok {
		t.Fatal("docs/commands.md no longer lists the --json fields after \"JSON object on stdout instead, with `\"")
	}
	list, _, _ = strings.Cut(list, "`")
	var documented []string
	prefixes, last := []string{""}, ""
	for _, token := range regexp.MustCompile(`[{},]|[^{},\s]+`).FindAllString(list, -1) {
		switch token {
		case "{":
			prefixes = append(prefixes, last+".")
		case "}":
			if prefixes = prefixes[:len(prefixes)-1]; len(prefixes) == 0 {
				t.Fatalf("docs/commands.md: an unmatched } in the --json fields: %s", list)
			}
		case ",":
		default:
			last = prefixes[len(prefixes)-1] + token
			documented = append(documented, last)
		}
	}
	fields := jsonFields(reflect.TypeFor[report.Report](), "", map[reflect.Type]bool{})
	if missing := without(fields, documented); len(missing) > 0 {
		t.Errorf("docs/commands.md does not list the report's fields %s", strings.Join(missing, ", "))
	}
	if extra := without(documented, fields); len(extra) > 0 {
		t.Errorf("docs/commands.md lists %s, which the report does not have", strings.Join(extra, ", "))
	}
}

// jsonFields are t's JSON fields as the docs write them: hotels[].name.
// A struct's fields are listed where it first appears (totals are a
// hotel's), and a value that encodes itself, as a time, is one field.
func jsonFields(t reflect.Type, prefix string, seen map[reflect.Type]bool) []string {
	var paths []string
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || f.Anonymous && name == "" {
			continue // an embedded struct's fields are visible fields of their own
		}
		name, ft := prefix+cmp.Or(name, f.Name), f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			if ft.Kind() == reflect.Slice {
				name += "[]"
			}
			ft = ft.Elem()
		}
		paths = append(paths, name)
		encodes := ft.Implements(reflect.TypeFor[json.Marshaler]()) || ft.Implements(reflect.TypeFor[encoding.TextMarshaler]())
		if ft.Kind() == reflect.Struct && !encodes && !seen[ft] {
			seen[ft] = true
			paths = append(paths, jsonFields(ft, name+".", seen)...)
		}
	}
	return paths
}

func without(a, b []string) []string {
	return slices.DeleteFunc(slices.Clone(a), func(s string) bool { return slices.Contains(b, s) })
}
