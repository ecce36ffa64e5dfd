package awscreds

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// ProfileNames lists the profile names in the shared config and credentials
// files the SDK reads (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, or
// their defaults), sorted and without repeats. It reads section headers only
// and checks nothing else; a missing file has no profiles. Shell completion
// uses it, so it never calls AWS.
func ProfileNames() ([]string, error) {
	f := sharedFiles()
	var names []string
	for _, path := range f.config {
		found, err := sectionNames(path, true)
		if err != nil {
			return nil, err
		}
		names = append(names, found...)
	}
	for _, path := range f.credentials {
		found, err := sectionNames(path, false)
		if err != nil {
			return nil, err
		}
		names = append(names, found...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// sectionNames returns the profiles an ini file declares: in the config file
// "[profile NAME]" and "[default]" (other kinds, such as "[sso-session X]",
// are not profiles); in the credentials file every "[NAME]".
func sectionNames(path string, isConfig bool) ([]string, error) {
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read AWS profiles: %w", err)
	}
	defer func() { _ = file.Close() }()
	var names []string
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if !strings.HasPrefix(line, "[") || !strings.HasSuffix(line, "]") {
			continue
		}
		fields := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(line, "["), "]"))
		switch {
		case len(fields) == 1 && (!isConfig || fields[0] == "default"):
			names = append(names, fields[0])
		case len(fields) == 2 && isConfig && fields[0] == "profile":
			names = append(names, fields[1])
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read AWS profiles from %s: %w", path, err)
	}
	return names, nil
}
