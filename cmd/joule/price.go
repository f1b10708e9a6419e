package main

import (
	"fmt"
	"os"
	_ "time/tzdata" // a CDR's time zone must resolve on hosts without zoneinfo

	"github.com/joule-ev/joule/internal/tariff"
)

type priceCmd struct {
	Tariff string `help:"OCPI 2.2.1 tariff JSON file" required:"" type:"existingfile"`
	CDR    string `name:"cdr" help:"OCPI 2.2.1 CDR JSON file" required:"" type:"existingfile"`
}

// Run prices the CDR against the tariff and prints the totals and the
// breakdown as JSON on stdout (see docs/pricing.md).
func (c *priceCmd) Run() error {
	tj, err := os.ReadFile(c.Tariff)
	if err != nil {
		return fmt.Errorf("price: %w", err)
	}
	cj, err := os.ReadFile(c.CDR)
	if err != nil {
		return fmt.Errorf("price: %w", err)
	}
	if err := tariff.Run(tj, cj, os.Stdout); err != nil {
		return fmt.Errorf("price %s with %s: %w", c.CDR, c.Tariff, err)
	}
	return nil
}
