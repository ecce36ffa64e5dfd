// Command sentinel is a policy-gated AWS credential gateway with real-time revocation.
package main

import (
	"os"

	_ "time/tzdata" // policy timezones must resolve on machines without a zoneinfo database
)

func main() {
	os.Exit(run(os.Args[1:], newEnv()))
}
