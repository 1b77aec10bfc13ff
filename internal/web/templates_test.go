package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template/parse"
)

// TestTemplates checks that every page parses, that every template file is
// a listed page or a partial some template uses, and that every page is
// rendered by some handler.
func TestTemplates(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != len(allPages) {
		t.Errorf("%d pages parsed, %d listed", len(pages), len(allPages))
	}
	// Every defined template is invoked somewhere.
	defined, used := map[string]bool{}, map[string]bool{"layout": true, "content": true}
	for _, tpl := range pages {
		for _, x := range tpl.Templates() {
			if x.Tree == nil {
				continue
			}
			defined[x.Name()] = true
			walk(x.Tree.Root, func(n parse.Node) {
				if tn, ok := n.(*parse.TemplateNode); ok {
					used[tn.Name] = true
				}
			})
		}
	}
	for name := range defined {
		if !used[name] && !strings.HasSuffix(name, ".html") {
			t.Errorf("template %q is never used", name)
		}
	}
	for name := range used {
		if !defined[name] {
			t.Errorf("template %q is used but not defined", name)
		}
	}
	// Every page constant is rendered by a handler.
	src := goSources(t)
	decl := regexp.MustCompile(`(?m)^\s*(page[A-Z]\w*)\s+page = "`)
	for _, m := range decl.FindAllStringSubmatch(src, -1) {
		if n := strings.Count(src, m[1]); n < 3 { // declared, listed, rendered
			t.Errorf("page constant %s is never rendered", m[1])
		}
	}
	// And every file is parsed.
	files, _ := fs.Glob(assets, "templates/*/*.html")
	for _, f := range files {
		if strings.HasPrefix(f, "templates/pages/") && !slices.Contains(allPages, page(strings.TrimSuffix(filepath.Base(f), ".html"))) {
			t.Errorf("%s is not a listed page", f)
		}
	}
}

// goSources is the package's Go code, tests left out.
func goSources(t *testing.T) string {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

func walk(n parse.Node, f func(parse.Node)) {
	if n == nil {
		return
	}
	f(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, f)
		}
	case *parse.ActionNode:
		walk(n.Pipe, f)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walk(c, f)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, f)
		}
	case *parse.IfNode:
		walk(n.Pipe, f)
		walk(n.List, f)
		walk(n.ElseList, f)
	case *parse.RangeNode:
		walk(n.Pipe, f)
		walk(n.List, f)
		walk(n.ElseList, f)
	case *parse.WithNode:
		walk(n.Pipe, f)
		walk(n.List, f)
		walk(n.ElseList, f)
	case *parse.TemplateNode:
		walk(n.Pipe, f)
	}
}

// usedKeys are the catalog keys the pages use: the first argument of every
// T call in a template or in Go, and the keys kept in tables.
func usedKeys(t *testing.T) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, tpl := range pages {
		for _, x := range tpl.Templates() {
			if x.Tree == nil {
				continue
			}
			walk(x.Tree.Root, func(n parse.Node) {
				cmd, ok := n.(*parse.CommandNode)
				if !ok || len(cmd.Args) < 2 {
					return
				}
				var ident []string
				switch a := cmd.Args[0].(type) {
				case *parse.FieldNode:
					ident = a.Ident
				case *parse.VariableNode:
					ident = a.Ident
				case *parse.ChainNode:
					ident = a.Field
				}
				if len(ident) == 0 || ident[len(ident)-1] != "T" {
					return
				}
				if s, ok := cmd.Args[1].(*parse.StringNode); ok {
					keys[s.Text] = true
				} else if _, ok := cmd.Args[1].(*parse.DotNode); !ok {
					t.Errorf("template %s: T with a key that is not a string literal: %s", x.Name(), cmd)
				}
			})
		}
	}
	src := goSources(t)
	for _, re := range []string{
		`\.T\(\s*"((?:[^"\\]|\\.)*)"`,
		`h\.status\(w, r, v, [^,]+, "((?:[^"\\]|\\.)*)",`,
		`h\.status\(w, r, v, [^,]+, "(?:[^"\\]|\\.)*",\s*"((?:[^"\\]|\\.)*)"`,
		`add\("[^"]*", "((?:[^"\\]|\\.)*)"\)`,
		`cells\(st\.\w+,((?:\s*"[^"]*",?)+)\)`,
		`(?:Owed|title) = "([^"]+)"`,
		`title := "([^"]+)"`,
	} {
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(src, -1) {
			if strings.HasPrefix(re, "cells") {
				parts := regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[1], -1)
				for i := 1; i < len(parts); i += 2 {
					keys[parts[i][1]] = true
				}
				continue
			}
			keys[m[1]] = true
		}
	}
	for _, k := range flashText {
		keys[k] = true
	}
	for _, m := range []map[string]string{stateNames, roleNames, eventNames, noticeNames} {
		for _, k := range m {
			keys[k] = true
		}
	}
	for _, k := range monthKeys {
		keys[k] = true
	}
	for _, k := range weekdayKeys {
		keys[k] = true
	}
	return keys
}

// TestCatalogIsComplete checks that every key used has English and German
// text, and that the catalog holds no key nothing uses.
func TestCatalogIsComplete(t *testing.T) {
	used := usedKeys(t)
	if len(used) < 300 {
		t.Fatalf("found only %d keys: the scan is broken", len(used))
	}
	for k := range used {
		_, de := german[k]
		_, pl := plurals[k]
		if !de && !pl {
			t.Errorf("no German for %q", k)
		}
		if strings.Contains(k, ".") && !strings.Contains(k, " ") {
			if _, en := english[k]; !en {
				t.Errorf("no English for the identifier %q", k)
			}
		}
	}
	for k := range german {
		if !used[k] {
			t.Errorf("German for %q, which nothing uses", k)
		}
	}
	for k := range plurals {
		if !used[k] {
			t.Errorf("plural for %q, which nothing uses", k)
		}
	}
	// The translations keep the verbs of their keys, so no argument is lost.
	verbs := regexp.MustCompile(`%(?:\[\d\])?[sdv]`)
	for k, de := range german {
		if len(verbs.FindAllString(k, -1)) != len(verbs.FindAllString(de, -1)) && english[k] == "" {
			t.Errorf("%q and its German %q take different numbers of arguments", k, de)
		}
	}
}
