package config

// Support types: the kinds of ticket a plan has. The list of a plan's
// valid types, the names they are shown by and the priorities each allows
// are defined here only; every route (mail, CLI, API, #type, sla due, mails,
// dashboard) asks the plan.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The built-in types. Every plan has feature_request: stored and closed
// without an SLA clock, designated by the desk (Kwikqy 2.5). incident is
// the type of every other ticket on a plan that declares no types.
const (
	TypeIncident       = "incident"
	TypeFeatureRequest = "feature_request"
)

// Priorities are the priorities, most urgent first: the one list every
// package checks and orders priorities by.
var Priorities = []string{"P1", "P2", "P3", "P4"}

// ValidPriority reports whether p is empty or one of Priorities.
func ValidPriority(p string) bool { return p == "" || slices.Contains(Priorities, p) }

// PriorityChoice offers Priorities as a sentence does: "P1, P2, P3 or P4".
func PriorityChoice() string {
	last := len(Priorities) - 1
	return strings.Join(Priorities[:last], ", ") + " or " + Priorities[last]
}

// PriorityList lists Priorities as the configuration's problems do:
// "P1, P2, P3, P4".
func PriorityList() string { return strings.Join(Priorities, ", ") }

// builtinTypeNames are the built-in types' names per language, for a plan
// that does not name them itself.
var builtinTypeNames = map[string]map[string]string{
	TypeIncident:       {"nl": "Incident", "en": "Incident"},
	TypeFeatureRequest: {"nl": "Functieverzoek", "en": "Feature request"},
}

// SupportType is one of a plan's support types (QiQQ: technical support on
// the services QiQQ manages, on other services, functional support): what
// it is called, which priorities it has and, where they differ from the
// plan's, its targets.
type SupportType struct {
	// Names are the type's name per language (nl, en), for mails and the
	// dashboard; without one the other language's, else the type's key.
	Names map[string]string `yaml:"names"`
	// Priorities are the priorities a ticket of this type may have; empty:
	// all. A ticket asking for another gets the nearest allowed one.
	Priorities []string `yaml:"priorities"`
	// Targets override the plan's targets (and a language rule's) per
	// priority, in the same shape as Plan.Targets.
	Targets map[string]PlanTarget `yaml:"targets"`
}

// typeKeyRE is what a declared type's key looks like: what #type and
// `tickets set type=` normalise to (TypeKey), so never a '-' or a capital.
var typeKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// TypeKey normalises how an agent writes a type ("Feature request",
// "feature-request", " BEHEERD ") to its key ("feature_request",
// "beheerd"): lower case, runs of spaces, dashes and underscores one '_'.
func TypeKey(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '\t'
	}), "_")
}

// HasClock reports whether tickets of type typ have an SLA clock: all but
// feature requests.
func HasClock(typ string) bool { return typ != TypeFeatureRequest }

// TypeNames lists the types a ticket on plan p may have: its declared
// types, sorted (incident when it declares none), then feature_request.
func (p Plan) TypeNames() []string {
	names := []string{TypeIncident}
	if len(p.Types) > 0 {
		names = sortedKeys(p.Types)
	}
	return append(names, TypeFeatureRequest)
}

// HasType reports whether typ is one of p's types (TypeNames).
func (p Plan) HasType(typ string) bool {
	if typ == TypeFeatureRequest {
		return true
	}
	if len(p.Types) == 0 {
		return typ == TypeIncident
	}
	_, ok := p.Types[typ]
	return ok
}

// NewType is the type of the ticket a new mail makes: default_type, else
// incident.
func (p Plan) NewType() string {
	if p.DefaultType != "" {
		return p.DefaultType
	}
	return TypeIncident
}

// TypePriorities are the priorities a ticket of type typ may have on p,
// most urgent first: the type's priorities, or all.
func (p Plan) TypePriorities(typ string) []string {
	if t, ok := p.Types[typ]; ok && len(t.Priorities) > 0 {
		out := slices.Clone(t.Priorities)
		slices.Sort(out) // "P1" < "P2": most urgent first
		return out
	}
	return slices.Clone(Priorities)
}

// TypeAllows reports whether a ticket of type typ on p may have priority.
func (p Plan) TypeAllows(typ, priority string) bool {
	return slices.Contains(p.TypePriorities(typ), priority)
}

// TypeName is p's name for type typ in lang: the type's name in lang, else
// in the other language, else the built-in name, else the key.
func (p Plan) TypeName(lang, typ string) string {
	for _, names := range []map[string]string{p.Types[typ].Names, builtinTypeNames[typ]} {
		if n := names[lang]; n != "" {
			return n
		}
		for _, l := range []string{"nl", "en"} {
			if n := names[l]; n != "" {
				return n
			}
		}
	}
	return typ
}

// UnknownTypeError says that typ is not one of a plan's types, and which
// are.
func (p Plan) UnknownTypeError(plan, typ string) error {
	return fmt.Errorf("unknown type %q for plan %q (want one of %s)", typ, plan, strings.Join(p.TypeNames(), ", "))
}

// validateTypes checks plans.<plan>.types and default_type. It runs in
// validatePlans; the calendar a type's targets need is the plan's.
func (l *loader) validateTypes(path string, p Plan) {
	c := l.c
	for _, name := range sortedKeys(p.Types) {
		st, tpath := p.Types[name], path+".types."+name
		switch {
		case name == TypeFeatureRequest:
			c.Add(tpath, "feature_request is built in (stored and closed without an SLA clock); it cannot be declared")
			continue
		case !typeKeyRE.MatchString(name):
			c.Addf(tpath, "type name must be 1 to 63 lower-case letters, digits or '_', starting with a letter (got %q): agents write it in #type", name)
		}
		for _, lang := range sortedKeys(st.Names) {
			switch {
			case lang != "nl" && lang != "en":
				c.Addf(tpath+".names."+lang, "language must be nl or en (got %q)", lang)
			case strings.TrimSpace(st.Names[lang]) == "":
				c.Add(tpath+".names."+lang, "name must not be empty")
			}
		}
		if c.Set(tpath+".priorities") && len(st.Priorities) == 0 {
			c.Add(tpath+".priorities", "must name at least one priority; leave it out for all")
		}
		for i, pr := range st.Priorities {
			ppath := fmt.Sprintf("%s.priorities[%d]", tpath, i)
			switch {
			case pr == "" || !ValidPriority(pr):
				c.Addf(ppath, "must be one of %s (got %q)", PriorityList(), pr)
			case slices.Contains(st.Priorities[:i], pr):
				c.Addf(ppath, "names %s twice", pr)
			}
		}
		l.validateTargets(tpath+".targets", st.Targets)
		if len(st.Targets) > 0 && p.Calendar == "" {
			c.Add(tpath+".targets", "needs the plan's calendar (plans."+strings.TrimPrefix(path, "plans.")+".calendar): the calendar their business time counts in")
		}
		for _, pr := range sortedKeys(st.Targets) {
			if ValidPriority(pr) && pr != "" && len(st.Priorities) > 0 && !slices.Contains(st.Priorities, pr) {
				c.Addf(tpath+".targets."+pr, "is a target for a priority the type does not have (priorities: %s)", strings.Join(st.Priorities, ", "))
			}
		}
	}
	switch {
	case len(p.Types) > 0 && p.DefaultType == "":
		c.Addf(path+".default_type", "is required with types: the type a new mail's ticket gets (one of %s)", strings.Join(declared(p), ", "))
	case p.DefaultType == "" || p.DefaultType == TypeIncident && len(p.Types) == 0:
	case p.DefaultType == TypeFeatureRequest:
		c.Add(path+".default_type", "cannot be feature_request: the desk designates feature requests, a new mail's ticket would be closed unread")
	case len(p.Types) == 0:
		c.Addf(path+".default_type", "unknown type %q: the plan declares no types (types), so its tickets are incidents", p.DefaultType)
	case !hasKey(p.Types, p.DefaultType):
		c.Addf(path+".default_type", "unknown type %q (types: %s)", p.DefaultType, strings.Join(declared(p), ", "))
	}
}

// declared are p's declared types, sorted, without the built-in
// feature_request.
func declared(p Plan) []string {
	return slices.DeleteFunc(sortedKeys(p.Types), func(n string) bool { return n == TypeFeatureRequest })
}
