package notify

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	tparse "text/template/parse"
)

// Executing a template against samples only runs the branches the samples
// take; a misspelt field inside {{if .PriorityReason}} would still only show
// up on the first such mail. checkFields therefore also looks at every field
// reference whose dot is the template data (outside {{with}} and {{range}}
// bodies, and every $.Field) and checks it against the type.

var templateDataType = reflect.TypeOf(templateData{})

func (mt *mailTemplate) tree() *tparse.Tree {
	if mt.html != nil {
		return mt.html.Tree
	}
	return mt.text.Tree
}

func checkFields(file string, tree *tparse.Tree) TemplateProblems {
	if tree == nil || tree.Root == nil {
		return nil
	}
	c := &fieldChecker{file: file, tree: tree, seen: map[string]bool{}}
	c.list(tree.Root, true)
	return c.ps
}

type fieldChecker struct {
	file string
	tree *tparse.Tree
	ps   TemplateProblems
	seen map[string]bool
}

// list walks nodes; rootDot says whether dot is the template data there.
func (c *fieldChecker) list(l *tparse.ListNode, rootDot bool) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		c.node(n, rootDot)
	}
}

func (c *fieldChecker) node(n tparse.Node, rootDot bool) {
	switch n := n.(type) {
	case *tparse.ActionNode:
		c.pipe(n.Pipe, rootDot)
	case *tparse.IfNode:
		c.branch(&n.BranchNode, rootDot, rootDot)
	case *tparse.WithNode:
		c.branch(&n.BranchNode, rootDot, false)
	case *tparse.RangeNode:
		c.branch(&n.BranchNode, rootDot, false)
	case *tparse.TemplateNode:
		c.pipe(n.Pipe, rootDot)
	case *tparse.ListNode:
		c.list(n, rootDot)
	}
}

// branch walks an if, with or range: its body with bodyDot, as with and
// range move dot into what they test; its pipeline and else part with
// rootDot.
func (c *fieldChecker) branch(b *tparse.BranchNode, rootDot, bodyDot bool) {
	c.pipe(b.Pipe, rootDot)
	c.list(b.List, bodyDot)
	c.list(b.ElseList, rootDot)
}

func (c *fieldChecker) pipe(p *tparse.PipeNode, rootDot bool) {
	if p == nil {
		return
	}
	for _, cmd := range p.Cmds {
		for _, arg := range cmd.Args {
			c.arg(arg, rootDot)
		}
	}
}

func (c *fieldChecker) arg(n tparse.Node, rootDot bool) {
	switch n := n.(type) {
	case *tparse.FieldNode:
		if rootDot {
			c.chain(n, n.Ident)
		}
	case *tparse.VariableNode:
		// $ is the template data everywhere in the file's own template.
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			c.chain(n, n.Ident[1:])
		}
	case *tparse.ChainNode:
		if f, ok := n.Node.(*tparse.FieldNode); ok && rootDot {
			c.chain(n, append(append([]string(nil), f.Ident...), n.Field...))
		}
		if p, ok := n.Node.(*tparse.PipeNode); ok {
			c.pipe(p, rootDot)
		}
	case *tparse.PipeNode:
		c.pipe(n, rootDot)
	}
}

// chain checks .A.B.C starting at the template data.
func (c *fieldChecker) chain(n tparse.Node, idents []string) {
	t := templateDataType
	for i, id := range idents {
		next, ok := member(t, id)
		if !ok {
			where := "the template data"
			if i > 0 {
				where = "." + strings.Join(idents[:i], ".") + " (" + t.String() + ")"
			}
			reason := "unknown field ." + strings.Join(idents[:i+1], ".") + ": " + where + " has no field or method " + id
			if i == 0 {
				if s := closest(strings.ToLower(id), lowerFieldNames()); s != "" {
					reason += " (did you mean ." + fieldNameFold(s) + "?)"
				}
			}
			c.report(n, reason)
			return
		}
		if next == nil {
			return // past a map, interface or method result we do not follow
		}
		t = next
	}
}

// member looks up a field or method the way text/template does. It returns
// a nil type when the chain cannot be followed further statically.
func member(t reflect.Type, name string) (reflect.Type, bool) {
	if m, ok := t.MethodByName(name); ok {
		return methodResult(m.Type), true
	}
	if t.Kind() != reflect.Pointer {
		if m, ok := reflect.PointerTo(t).MethodByName(name); ok {
			return methodResult(m.Type), true
		}
	}
	base := t
	if base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	switch base.Kind() {
	case reflect.Struct:
		f, ok := base.FieldByName(name)
		if !ok || !f.IsExported() {
			return nil, false
		}
		return f.Type, true
	case reflect.Map, reflect.Interface:
		return nil, true
	}
	return nil, false
}

func methodResult(m reflect.Type) reflect.Type {
	if m.NumOut() == 0 {
		return nil
	}
	r := m.Out(0)
	if r.Kind() == reflect.Interface {
		return nil
	}
	return r
}

func (c *fieldChecker) report(n tparse.Node, reason string) {
	loc, _ := c.tree.ErrorContext(n)
	line := 0
	// loc is "NAME:LINE:COL"; NAME is the file and may itself hold colons.
	if rest, ok := strings.CutPrefix(loc, c.file+":"); ok {
		l, _, _ := strings.Cut(rest, ":")
		line, _ = strconv.Atoi(l)
	}
	key := strconv.Itoa(line) + reason
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.ps = append(c.ps, TemplateProblem{File: c.file, Line: line, Reason: reason})
}

// templateFieldNames lists the fields of the template data.
func templateFieldNames() []string {
	var names []string
	for i := range templateDataType.NumField() {
		if f := templateDataType.Field(i); f.IsExported() {
			names = append(names, f.Name)
		}
	}
	sort.Strings(names)
	return names
}

func lowerFieldNames() []string {
	var out []string
	for _, n := range templateFieldNames() {
		out = append(out, strings.ToLower(n))
	}
	return out
}

func fieldNameFold(lower string) string {
	for _, n := range templateFieldNames() {
		if strings.ToLower(n) == lower {
			return n
		}
	}
	return lower
}
