// Command joule runs the Joule EV charging platform and its tools.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=..."; else the
// module version (or "dev").
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

type cli struct {
	Serve   serveCmd   `cmd:"" help:"Run Joule (HTTP APIs, OCPP central system, jobs). Embedded SQLite by default."`
	Migrate migrateCmd `cmd:"" help:"Apply database migrations and exit."`
	Keys    keysCmd    `cmd:"" help:"Manage API keys."`
	Price   priceCmd   `cmd:"" help:"Price an OCPI 2.2.1 CDR against an OCPI 2.2.1 tariff; prints JSON."`
	Sim     simCmd     `cmd:"" help:"Simulate OCPP 1.6J chargers against a central system (one to thousands)."`
	Version versionCmd `cmd:"" help:"Print the version."`
}

// dbFlag is shared by the commands that open the database.
type dbFlag struct {
	DatabaseURL string `name:"database-url" env:"JOULE_DATABASE_URL" default:"joule.db" help:"SQLite file path, or postgres://user@host/db for PostgreSQL."`
}

type versionCmd struct{}

func (versionCmd) Run() error { fmt.Println("joule", buildVersion()); return nil }

func main() {
	var c cli
	ctx := kong.Parse(&c, kong.Name("joule"),
		kong.Description("Joule: an open-source EV charging platform. Chargers over OCPP 1.6J, apps over HTTP, payments from wallets and cards, signed webhooks."),
		kong.UsageOnError())
	if err := ctx.Run(); err != nil {
		slog.Error(err.Error())
		os.Exit(1)
	}
}
