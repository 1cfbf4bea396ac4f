/*
 * Upgrade 1.0 -> 1.1: what 1.1 changes in the objects of 1.0, one part per
 * topic (NN-topic.sql, applied in name order); the features that are new in
 * 1.1 follow, whole, from their src/<feature>.sql (NEW_IN_1_1 in the
 * Makefile).  test/t/001_upgrade.pl checks that the result equals a fresh
 * install.
 */
