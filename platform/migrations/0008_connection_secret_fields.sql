-- Which secret fields a connection holds (their names, not their values), so that reads can say
-- "set" without the secret key. NULL for connections stored before: reads then decrypt to learn it.
ALTER TABLE connections ADD COLUMN secret_fields text[];
