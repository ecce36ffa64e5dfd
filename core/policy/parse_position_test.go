package policy

import (
	"errors"
	"strings"
	"testing"
)

// A YAML syntax error is reported at the line to fix, not where the
// enclosing list or bracket began.
func TestParseSyntaxErrorLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		input    string
		line     int
		contains string
	}{
		{"bad indent on line 5", withRuleA("   reason: x"), 5, "did not find expected '-' indicator"},
		{"over-indented key on line 8", withRuleA("    reason: x", "  - name: b", "    effect: allow", "     reason: y"), 8, "mapping values are not allowed"},
		{"unclosed [ on line 6, more rules after", withRuleA("    conditions:", "      profiles: [prod, dev", "  - name: b", "    effect: deny"), 6, "did not find expected ',' or ']'"},
		{"unclosed [ on the last line", withRuleA("    conditions:", "      profiles: [prod, dev"), 6, "did not find expected ',' or ']'"},
		{"unclosed { on line 6", withRuleA("    conditions:", "      time: {days: [monday]", "  - name: b"), 6, "did not find expected ',' or '}'"},
		{"unclosed quote on line 3", doc(`version: "1"`, "rules:", `  - name: "a`, "    effect: allow"), 3, "found unexpected end of stream"},
		// A list that is meant to span lines is not blamed on its first line.
		{"list over two lines, error after it", withRuleA("    conditions:", "      profiles: [prod,", "        dev]", "   reason: x"), 8, "did not find expected '-' indicator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.input))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error %v, want a *ParseError", err)
			}
			if pe.Line != tt.line || !strings.Contains(pe.Msg, tt.contains) {
				t.Errorf("got %q, want line %d containing %q; input:\n%s", pe.Error(), tt.line, tt.contains, tt.input)
			}
		})
	}
}
