package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ParseError is one problem in a policy file, placed at the YAML node that
// caused it.
type ParseError struct {
	// Line and Column are 1-based. Column is 0 for YAML syntax errors, whose
	// parser reports only a line.
	Line, Column int
	Msg          string
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("line %d:%d: %s", e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	default:
		return e.Msg
	}
}

// ParseErrors is every problem Parse found, in file order. errors.As finds
// both the list and its first *ParseError.
type ParseErrors []*ParseError

func (es ParseErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (es ParseErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

var (
	policyFields     = []string{"version", "rules", "approvals", "breakglass", "notifications", "admins", "revoke_at_aws"}
	ruleFields       = []string{"name", "effect", "conditions", "reason", "max_server_duration", "allow_long_lived_passthrough", "session_store"}
	conditionFields  = []string{"profiles", "users", "time", "mode"}
	timeWindowFields = []string{"days", "hours", "timezone"}
	hourRangeFields  = []string{"start", "end"}
)

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

const dayNames = "monday, tuesday, wednesday, thursday, friday, saturday, sunday"

// Parse reads one policy document. It is strict: every unknown field, bad
// value or structural mistake is reported, each with its position, as
// ParseErrors.
func Parse(data []byte) (*Policy, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ParseErrors{{Line: 1, Column: 1, Msg: `policy is empty: write version: "1" and a rules list`}}
		}
		return nil, ParseErrors{syntaxError(err, data)}
	}
	p := &parser{names: map[string]int{}}
	pol := p.policy(&doc)

	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.errs = append(p.errs, &ParseError{Line: extra.Line, Column: extra.Column,
			Msg: "a second YAML document starts here: a policy file holds exactly one; remove the '---' separator and merge the rules"})
	case !errors.Is(err, io.EOF):
		p.errs = append(p.errs, syntaxError(err, data))
	}

	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *ParseError) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Column - b.Column
		})
		return nil, p.errs
	}
	pol.Hash = HashOf(data)
	return pol, nil
}

var (
	yamlLineRE      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchorRE = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// syntaxError turns the YAML library's error, which carries at most a line
// number inside its text, into a ParseError at the line to fix.
//
// The library's number is not always that line: for an error found while
// parsing, it names where the enclosing block or bracket began, counted from
// 0 (a bad indent on line 5 inside a list that starts on line 3 reads "line
// 2"). So the line is found by reading the text itself: see firstBadLine.
func syntaxError(err error, data []byte) *ParseError {
	const fix = " (check the indentation, and quote values that contain ': ' or start with a special character)"
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1]) // the regexp matched digits
		if bad := firstBadLine(data); bad > 0 {
			line = bad
		}
		return &ParseError{Line: line, Msg: "invalid YAML: " + m[2] + fix}
	}
	if m := unknownAnchorRE.FindStringSubmatch(msg); m != nil {
		// Reported without a position; the first "*name" in the text is the culprit.
		e := &ParseError{Msg: fmt.Sprintf("invalid YAML: alias *%s refers to no anchor: define &%s before it, or quote the value if '*' was meant literally", m[1], m[1])}
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			e.Line = bytes.Count(data[:i], []byte("\n")) + 1
			e.Column = i - bytes.LastIndexByte(data[:i], '\n')
		}
		return e
	}
	// The scanner omits the line when its 0-based mark is 0: the first line.
	line := 1
	if bad := firstBadLine(data); bad > 0 {
		line = bad
	}
	return &ParseError{Line: line, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ") + fix}
}

// maxBadLineSearch bounds firstBadLine's work (one parse per line it steps
// back over) to files far longer than any policy.
const maxBadLineSearch = 5000

// firstBadLine returns the 1-based line from which the text stops being
// valid YAML: the first n whose text up to line n fails to parse, and keeps
// failing with every line added after it. The last condition skips a
// construct that is merely unfinished at line n, such as a bracketed list
// spread over several lines. It returns 0 when data parses, or has more
// than maxBadLineSearch lines.
func firstBadLine(data []byte) int {
	// ends[i] is the offset just past line i+1.
	var ends []int
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	if len(ends) == 0 || len(ends) > maxBadLineSearch || parsesAsYAML(data) {
		return 0
	}
	bad := len(ends)
	for bad > 1 && !parsesAsYAML(data[:ends[bad-2]]) {
		bad--
	}
	return bad
}

// parsesAsYAML reports whether every document in data parses.
func parsesAsYAML(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		switch err := dec.Decode(&n); {
		case errors.Is(err, io.EOF):
			return true
		case err != nil:
			return false
		}
	}
}

type parser struct {
	errs ParseErrors
	// names maps each rule name seen so far to its line, to reject duplicates.
	names map[string]int
	// sectionNames does the same per override section (approvals,
	// breakglass, webhooks): names are unique within a section.
	sectionNames map[string]map[string]int
}

func (p *parser) fail(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &ParseError{Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names what a node is, for "must be X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return fmt.Sprintf("the value %q", n.Value)
	default:
		return "something else"
	}
}

type field struct{ key, value *yaml.Node }

// fields returns a mapping's entries by key, reporting non-string keys,
// repeated keys and keys outside known.
func (p *parser) fields(n *yaml.Node, where string, known []string, hints map[string]string) map[string]field {
	out := map[string]field{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := resolve(n.Content[i]), resolve(n.Content[i+1])
		if key.Kind != yaml.ScalarNode {
			p.fail(key, "a key in %s must be a plain name, got %s", where, describe(key))
			continue
		}
		if prev, dup := out[key.Value]; dup {
			p.fail(key, "%q is set twice in %s (first at line %d): keep one", key.Value, where, prev.key.Line)
			continue
		}
		if !slices.Contains(known, key.Value) {
			p.fail(key, "unknown field %q in %s: %s", key.Value, where, unknownFieldHint(key.Value, known, hints))
			continue
		}
		out[key.Value] = field{key: key, value: value}
	}
	return out
}

func unknownFieldHint(key string, known []string, hints map[string]string) string {
	if h, ok := hints[key]; ok {
		return h
	}
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "valid fields are " + strings.Join(known, ", ")
}

// editDistance is the Levenshtein distance, used only to suggest field names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// mapping reports whether n is a mapping, failing with a fix when not.
func (p *parser) mapping(n *yaml.Node, what, fix string) bool {
	if n.Kind == yaml.MappingNode {
		return true
	}
	p.fail(n, "%s must be a mapping, got %s: %s", what, describe(n), fix)
	return false
}

// scalar returns n's text when it is a single non-empty value.
func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	switch {
	case n.Kind != yaml.ScalarNode:
		p.fail(n, "%s must be a single value, got %s", what, describe(n))
		return "", false
	case isNull(n) || n.Value == "":
		p.fail(n, "%s is empty: give it a value or remove it", what)
		return "", false
	}
	switch n.Tag {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		return n.Value, true
	}
	p.fail(n, "%s must be plain text, not a %s value", what, n.Tag)
	return "", false
}

// stringList returns the entries of a list of non-empty values, calling
// check (when given) on each for further validation.
func (p *parser) stringList(n *yaml.Node, what string, check func(item *yaml.Node, value string) bool) ([]string, bool) {
	if n.Kind != yaml.SequenceNode {
		switch {
		case isNull(n):
			p.fail(n, "%s is empty: write %s: [] to match anything, or remove it", what, what)
		case n.Kind == yaml.ScalarNode:
			p.fail(n, "%s must be a list: write %s: [%s]", what, what, n.Value)
		default:
			p.fail(n, "%s must be a list of values, got %s", what, describe(n))
		}
		return nil, false
	}
	ok := true
	out := make([]string, 0, len(n.Content))
	for _, item := range n.Content {
		item = resolve(item)
		v, good := p.scalar(item, "an entry of "+what)
		if good && check != nil {
			good = check(item, v)
		}
		if !good {
			ok = false
			continue
		}
		out = append(out, v)
	}
	return out, ok
}

func (p *parser) policy(doc *yaml.Node) *Policy {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		p.fail(doc, "policy is not a YAML document")
		return nil
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		p.fail(root, `policy is empty: write version: "1" and a rules list`)
		return nil
	}
	if !p.mapping(root, "the policy", `start the file with version: "1" and a rules list`) {
		return nil
	}
	pol := &Policy{}
	f := p.fields(root, "the policy", policyFields, policyHints)
	p.overrideSections(pol, f)
	if v, ok := f["revoke_at_aws"]; ok {
		pol.RevokeAtAWS = p.boolean(v.value, "revoke_at_aws")
	}

	if v, ok := f["version"]; !ok {
		p.fail(root, `missing version: add version: "1" at the top of the file`)
	} else if s, ok := p.scalar(v.value, "version"); ok {
		if s != SupportedVersion {
			p.fail(v.value, "unsupported version %q: this Sentinel reads version %q", s, SupportedVersion)
		}
		pol.Version = s
	}
	if v, ok := f["admins"]; ok {
		pol.Admins, pol.adminsLine = p.admins(v.value), v.key.Line
	}

	rules, ok := f["rules"]
	if !ok {
		p.fail(root, "missing rules: add a rules list (rules checked in order, first match wins)")
		return pol
	}
	pol.rulesLine = rules.key.Line
	if rules.value.Kind != yaml.SequenceNode {
		p.fail(rules.value, "rules must be a list of rules (each starting with '- name:'), got %s", describe(rules.value))
		return pol
	}
	for i, n := range rules.value.Content {
		pol.Rules = append(pol.Rules, p.rule(i, resolve(n)))
	}
	return pol
}

func (p *parser) rule(index int, n *yaml.Node) Rule {
	r := Rule{Line: n.Line}
	if !p.mapping(n, fmt.Sprintf("rule %d", index+1), "give each rule name, effect and optional conditions, reason and max_server_duration") {
		return r
	}
	f := p.fields(n, "a rule", ruleFields, ruleHints)

	if v, ok := f["name"]; !ok {
		p.fail(n, "rule %d has no name: add name: <a unique name>", index+1)
	} else if s, ok := p.scalar(v.value, "name"); ok {
		if first, dup := p.names[s]; dup {
			p.fail(v.value, "duplicate rule name %q (first used at line %d): rule names must be unique", s, first)
		} else {
			p.names[s] = v.value.Line
		}
		r.Name = s
	}

	if v, ok := f["effect"]; !ok {
		p.fail(n, "rule %d has no effect: add effect: with one of %s", index+1, joinValues(allEffects))
	} else if s, ok := p.scalar(v.value, "effect"); ok {
		if !Effect(s).Valid() {
			p.fail(v.value, "unknown effect %q: use one of %s", s, joinValues(allEffects))
		}
		r.Effect = Effect(s)
	}

	if v, ok := f["reason"]; ok {
		r.Reason, _ = p.scalar(v.value, "reason")
	}

	if v, ok := f["max_server_duration"]; ok {
		if s, ok := p.scalar(v.value, "max_server_duration"); ok {
			d, err := time.ParseDuration(s)
			switch {
			case err != nil:
				p.fail(v.value, `invalid max_server_duration %q: use a Go duration such as "30m", "1h" or "1h30m"`, s)
			case d <= 0:
				p.fail(v.value, `max_server_duration must be positive, got %q: give a duration such as "30m", or remove it for no cap`, s)
			default:
				r.MaxServerDuration = d
			}
		}
	}

	if v, ok := f["allow_long_lived_passthrough"]; ok {
		r.AllowLongLivedPassThrough = p.boolean(v.value, "allow_long_lived_passthrough")
	}
	if v, ok := f["session_store"]; ok {
		r.SessionStore = p.sessionStore(v.value, r.Effect)
	}

	if v, ok := f["conditions"]; ok {
		r.Conditions = p.conditions(v.value)
	}
	return r
}

// boolean reads true or false, spelled as YAML 1.2 does.
func (p *parser) boolean(n *yaml.Node, what string) bool {
	s, ok := p.scalar(n, what)
	if !ok {
		return false
	}
	switch {
	case n.Tag == "!!bool" && s == "true":
		return true
	case n.Tag == "!!bool" && s == "false":
		return false
	}
	p.fail(n, "%s must be true or false, got %q", what, s)
	return false
}

// storeSchemes are the forms a store identity takes (see docs/policy-reference.md).
var storeSchemes = []string{"bolt://", "redis://", "dynamodb://"}

// sessionStore reads a require_server_session rule's store identity. It is
// compared exactly with the identity of the store a server tracks in, so it
// must be written in that form: no credentials, rediss written as redis.
func (p *parser) sessionStore(n *yaml.Node, effect Effect) string {
	s, ok := p.scalar(n, "session_store")
	if !ok {
		return ""
	}
	const form = `name it as Sentinel does, such as "dynamodb://sentinel-sessions?region=eu-west-1", "redis://cache.internal:6379/0?prefix=sentinel" or "bolt:///var/lib/sentinel/sessions.db"`
	switch {
	case effect != EffectRequireServerSession:
		p.fail(n, "session_store only applies to require_server_session rules: remove it, or make the effect require_server_session")
	case !slices.ContainsFunc(storeSchemes, func(prefix string) bool { return strings.HasPrefix(s, prefix) && len(s) > len(prefix) }):
		p.fail(n, "session_store %q is not a store identity: %s", s, form)
	case strings.Contains(s, "@"):
		p.fail(n, "session_store %q holds a user name or password: leave credentials out of the policy; %s", s, form)
	case strings.HasPrefix(s, "redis://") && !strings.Contains(s, "?prefix="):
		p.fail(n, "session_store %q has no prefix: write the database and key prefix too, as in \"redis://HOST:PORT/0?prefix=sentinel\"", s)
	default:
		return s
	}
	return ""
}

// ruleHints catch conditions written one level too high.
var ruleHints = map[string]string{
	"profiles": "profiles belongs under conditions: (conditions: {profiles: [...]})",
	"users":    "users belongs under conditions: (conditions: {users: [...]})",
	"time":     "time belongs under conditions: (conditions: {time: {...}})",
	"mode":     "mode belongs under conditions: (conditions: {mode: [...]})",
	"days":     "days belongs under conditions: time:",
	"hours":    "hours belongs under conditions: time:",
	"timezone": "timezone belongs under conditions: time:",
}

// conditionHints catch time fields written one level too high.
var conditionHints = map[string]string{
	"days":     "days belongs under time: (time: {days: [...]})",
	"hours":    "hours belongs under time: (time: {hours: {start: ..., end: ...}})",
	"timezone": "timezone belongs under time: (time: {timezone: ...})",
	"user":     `did you mean "users"?`,
	"profile":  `did you mean "profiles"?`,
	"modes":    `did you mean "mode"?`,
}

func (p *parser) conditions(n *yaml.Node) Conditions {
	var c Conditions
	if isNull(n) {
		p.fail(n, "conditions is empty: remove it to match every request, or list profiles, users, time or mode")
		return c
	}
	if !p.mapping(n, "conditions", "list profiles, users, time or mode under it") {
		return c
	}
	f := p.fields(n, "conditions", conditionFields, conditionHints)

	if v, ok := f["profiles"]; ok {
		c.Profiles, _ = p.stringList(v.value, "profiles", nil)
	}
	if v, ok := f["users"]; ok {
		c.Users, _ = p.userList(v.value, "users", "user")
	}
	if v, ok := f["mode"]; ok {
		values, _ := p.stringList(v.value, "mode", func(item *yaml.Node, s string) bool {
			if _, err := ParseMode(s); err != nil {
				p.fail(item, "%v", err)
				return false
			}
			return true
		})
		for _, s := range values {
			c.Modes = append(c.Modes, Mode(s))
		}
	}
	if v, ok := f["time"]; ok {
		c.Time = p.timeWindow(v.value)
	}
	return c
}

// userList reads a list of user entries (names and arn: patterns), the one
// syntax shared by a rule's users, approvers and break-glass users. noun
// names one entry in messages.
func (p *parser) userList(n *yaml.Node, what, noun string) ([]string, bool) {
	return p.stringList(n, what, func(item *yaml.Node, s string) bool {
		if len(s) >= 4 && strings.EqualFold(s[:4], "arn:") && s[:4] != "arn:" {
			p.fail(item, "%s %q looks like an ARN: start it with lowercase \"arn:\" so it is matched as one", noun, s)
			return false
		}
		return true
	})
}

// admins reads the top-level admins list: user entries, matched as a
// rule's users are. An empty list is allowed (nobody is an admin); a key
// with no value is a mistake.
func (p *parser) admins(n *yaml.Node) []string {
	if isNull(n) {
		p.fail(n, "admins is empty: list who may see and revoke everyone's sessions (names or arn: patterns), or remove it")
		return nil
	}
	admins, _ := p.userList(n, "admins", "admin")
	return admins
}

func (p *parser) timeWindow(n *yaml.Node) *TimeWindow {
	if isNull(n) {
		p.fail(n, "time is empty: remove it to match any time, or give days and/or hours")
		return nil
	}
	if !p.mapping(n, "time", "give days, hours and timezone under it") {
		return nil
	}
	f := p.fields(n, "time", timeWindowFields, map[string]string{"day": `did you mean "days"?`, "tz": `did you mean "timezone"?`})
	w := &TimeWindow{}
	complete := true

	if v, ok := f["days"]; ok {
		days, good := p.stringList(v.value, "days", func(item *yaml.Node, s string) bool {
			if _, known := weekdays[strings.ToLower(s)]; !known {
				p.fail(item, "unknown day %q: use the full English day name: %s", s, dayNames)
				return false
			}
			return true
		})
		complete = complete && good
		for _, d := range days {
			if wd := weekdays[strings.ToLower(d)]; !slices.Contains(w.Days, wd) {
				w.Days = append(w.Days, wd)
			}
		}
	}
	if v, ok := f["hours"]; ok {
		w.Hours = p.hourRange(v.value)
		complete = complete && w.Hours != nil
	}
	if v, ok := f["timezone"]; ok {
		if s, ok := p.scalar(v.value, "timezone"); ok {
			w.Location = p.location(v.value, s)
		}
	}
	if complete && len(w.Days) == 0 && w.Hours == nil {
		p.fail(n, "time needs days, hours or both: remove time to match any time")
	}
	return w
}

func (p *parser) location(n *yaml.Node, name string) *time.Location {
	if name == "Local" {
		p.fail(n, `timezone "Local" depends on the machine: name an IANA zone such as "Europe/Berlin", or "UTC"`)
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		p.fail(n, `unknown timezone %q: use an IANA zone name such as "America/New_York", "Europe/Berlin" or "UTC"`, name)
		return nil
	}
	return loc
}

func (p *parser) hourRange(n *yaml.Node) *HourRange {
	if isNull(n) {
		p.fail(n, `hours is empty: remove it for whole days, or give start and end such as {start: "09:00", end: "17:00"}`)
		return nil
	}
	if !p.mapping(n, "hours", `give start and end, such as {start: "09:00", end: "17:00"}`) {
		return nil
	}
	f := p.fields(n, "hours", hourRangeFields, map[string]string{"from": `did you mean "start"?`, "to": `did you mean "end"?`})
	var r HourRange
	ok := true
	for _, key := range hourRangeFields {
		v, present := f[key]
		if !present {
			p.fail(n, `hours has no %s: give both start and end as "HH:MM"`, key)
			ok = false
			continue
		}
		t, good := p.timeOfDay(v.value, key)
		if !good {
			ok = false
			continue
		}
		if key == "start" {
			r.Start = t
		} else {
			r.End = t
		}
	}
	if !ok {
		return nil
	}
	if r.Start == r.End {
		p.fail(f["end"].value, "hours start and end are both %s, an empty window: remove hours to match whole days", r.Start)
		return nil
	}
	return &r
}

// timeOfDay reads strict 24-hour "HH:MM": two digits each, so "9:00" is
// rejected rather than guessed at.
func (p *parser) timeOfDay(n *yaml.Node, what string) (TimeOfDay, bool) {
	s, ok := p.scalar(n, what)
	if !ok {
		return 0, false
	}
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	if len(s) != 5 || s[2] != ':' || !digit(s[0]) || !digit(s[1]) || !digit(s[3]) || !digit(s[4]) {
		p.fail(n, `invalid %s %q: use 24-hour "HH:MM" with two digits each, such as "09:00" or "22:30"`, what, s)
		return 0, false
	}
	hour := int(s[0]-'0')*10 + int(s[1]-'0')
	minute := int(s[3]-'0')*10 + int(s[4]-'0')
	if hour > 23 || minute > 59 {
		p.fail(n, `invalid %s %q: hours run 00-23 and minutes 00-59 (for midnight use "00:00")`, what, s)
		return 0, false
	}
	return TimeOfDay(hour*60 + minute), true
}
