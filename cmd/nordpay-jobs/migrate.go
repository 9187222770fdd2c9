package main

import (
	"github.com/nordpay/nordpay-jobs/db"
	"github.com/spf13/cobra"
)

func newMigrateCommand(m *Main) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema",
		Long: `Create or upgrade the database schema to the version this binary carries.

Migrations are numbered SQL files embedded in the binary, applied in order, each in its own
transaction, and recorded in the table schema_migrations. Running it again applies nothing.
Several replicas may run it at once: an advisory lock makes them take turns. A database that a
newer nordpay-jobs has migrated, or whose applied migrations were edited, is refused.`,
		Example: `  DATABASE_URL=postgres://nordpay@localhost/nordpay nordpay-jobs migrate
  nordpay-jobs migrate --json`,
		Args: argsUsage(cobra.NoArgs),
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			conn, err := m.OpenDBForMigration(ctx)
			if err != nil {
				return err
			}
			applied, err := db.Migrate(ctx, conn.DB)
			for _, mig := range applied {
				m.Logger.Info("migration applied", "migration", mig.String())
			}
			if err != nil {
				return err
			}
			all, err := db.Applied(ctx, conn.DB)
			if err != nil {
				return err
			}
			current := 0
			if len(all) > 0 {
				current = all[len(all)-1].Version
			}
			if asJSON {
				names := make([]string, 0, len(applied))
				for _, mig := range applied {
					names = append(names, mig.String())
				}
				return m.printJSON(map[string]any{"applied": names, "version": current})
			}
			if len(applied) == 0 {
				m.printf("schema is up to date (version %d)\n", current)
				return nil
			}
			for _, mig := range applied {
				m.printf("applied %s\n", mig)
			}
			m.printf("schema is at version %d\n", current)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"applied": [...], "version": n}`)
	return cmd
}
