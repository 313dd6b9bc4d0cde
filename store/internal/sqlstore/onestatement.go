package sqlstore

// A database that runs data-modifying statements inside WITH
// ([Dialect.WritingCTEs]: PostgreSQL) does a whole sign-in, or a whole
// successful rotation, as one statement: one round trip instead of a
// transaction's BEGIN, statements and COMMIT. A statement is atomic, so a
// failure of any part (a taken key is a unique violation, not a silently
// skipped row: [Dialect.Duplicate]) changes nothing. The parameters are
// cast to their columns' types: in INSERT … SELECT they have no other
// context to take one from.
const (
	// signInSQL records the request as used; only if it did are the
	// session (when $9) and the code inserted. Of concurrent sign-ins with
	// one request, one inserts its row; the others wait for it, find it
	// live, and insert nothing.
	signInSQL = `WITH used AS (` + useRequestSQL + ` RETURNING 1),
		sess AS (
			INSERT INTO sessions (id_hash, subject, claims, auth_time, expires_at)
			SELECT $4::bytea, $5::text, $6::text, $7::timestamptz, $8::timestamptz FROM used WHERE $9::boolean)
		INSERT INTO auth_codes (hash, ` + codeColumns + `)
		SELECT $10::bytea, $11::text, $12::text, $13::text, $14::text, $15::text, $16::text,
			$17::bytea, $18::timestamptz, $19::timestamptz, $20::text, $21::bytea, $22::text FROM used`
	// rotateInsertSQL is rotateSQL and, if it marked the old token used,
	// the successor's INSERT.
	rotateInsertSQL = `WITH used AS (` + rotateSQL + ` RETURNING 1)
		INSERT INTO refresh_tokens (` + refreshColumns + `)
		SELECT $7::bytea, $8::text, $9::text, $10::text, $11::text, $12::text, $13::bytea,
			$14::timestamptz, $15::timestamptz, $16::timestamptz, $17::text FROM used`
	// createFamilyTokenSQL is CreateRefreshToken: the family, unless it
	// exists, and the token, which fails the statement if its hash is
	// taken. The foreign key is checked at the statement's end, when the
	// family's row is there.
	createFamilyTokenSQL = `WITH family AS (` + createFamilySQL + `)
		INSERT INTO refresh_tokens (` + refreshColumns + `)
		VALUES ($4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
)
