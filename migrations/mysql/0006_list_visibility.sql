-- Who may see a user's followers and following lists and their counts (SPEC §14): 0 everyone
-- (the default), 1 the user's followers, 2 the user alone.
ALTER TABLE followgraph_accounts ADD COLUMN followers_visibility SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE followgraph_accounts ADD COLUMN following_visibility SMALLINT NOT NULL DEFAULT 0;
