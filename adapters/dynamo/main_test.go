package dynamo

import (
	"os"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
