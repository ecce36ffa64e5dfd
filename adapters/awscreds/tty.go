package awscreds

import (
	"bufio"
	"context"
	"fmt"
	"io"
)

// TerminalPrompter asks on the controlling terminal (/dev/tty, the console on
// Windows), never on stdin, which belongs to the child.
type TerminalPrompter struct{}

// MFACode writes message to the terminal and reads one line. Without a
// terminal it fails with ErrNoTerminal; a cancelled ctx stops the read.
func (TerminalPrompter) MFACode(ctx context.Context, message string) (string, error) {
	in, out, err := openTerminal()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoTerminal, err)
	}
	closeAll := func() {
		_ = in.Close()
		if out != in {
			_ = out.Close()
		}
	}
	defer closeAll()
	return promptLine(ctx, in, out, message, closeAll)
}

// promptLine writes message to out and reads a line from in; abort unblocks
// the read when ctx ends.
func promptLine(ctx context.Context, in io.Reader, out io.Writer, message string, abort func()) (string, error) {
	if _, err := io.WriteString(out, message); err != nil {
		return "", err
	}
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err == io.EOF && line != "" {
			err = nil
		}
		got <- answer{line, err}
	}()
	select {
	case a := <-got:
		return a.line, a.err
	case <-ctx.Done():
		abort()
		return "", ctx.Err()
	}
}
