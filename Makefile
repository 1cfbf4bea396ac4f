# clm: customer lifecycle management for PostgreSQL (PGXS build)
EXTENSION    = clm
EXTVERSION   = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")
MODULE_big   = clm
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PG_CPPFLAGS  = -I$(srcdir)/src
override PG_CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

# The install script of the newest version is built from one SQL source per
# feature, next to its C code, in dependency order.  Each source has the same
# sections: types and tables, support functions, aggregates, user functions
# (views, triggers, policies), comments and grants.
SQL_SOURCES  = src/clm.sql \
               src/rfm.sql \
               src/subs.sql \
               src/km.sql \
               src/sbg.sql \
               src/clv.sql \
               src/clv_holdout.sql \
               src/stages.sql \
               src/activity.sql \
               src/scores.sql \
               src/security.sql \
               src/churn.sql \
               src/satisfaction.sql \
               src/stage_kpis.sql \
               src/action.sql \
               src/citus.sql

# Upgrade 1.0 -> 1.1: the changes to 1.0's objects (src/upgrade/1.0--1.1/*.sql,
# in name order), then the sources of the features that are new in 1.1, whole.
UPGRADE_1_1  = $(sort $(wildcard src/upgrade/1.0--1.1/*.sql))
NEW_IN_1_1   = src/security.sql \
               src/churn.sql \
               src/satisfaction.sql \
               src/stage_kpis.sql \
               src/action.sql \
               src/citus.sql

# clm--1.0.sql is the shipped 1.0 install script: it never changes again
DATA         = $(EXTENSION)--1.0.sql
DATA_built   = $(EXTENSION)--$(EXTVERSION).sql $(EXTENSION)--1.0--1.1.sql

# every sql/*.sql runs against expected/*.out; each test file creates what it
# needs.  `make installcheck` starts its own temporary server with
# test/regress.conf (clm preloaded, the worker on); initdb refuses root, so
# scripts/test runs it as the postgres OS user.  Against a running server
# instead: make installcheck REGRESS_OPTS=--load-extension=clm
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=$(EXTENSION) --temp-instance=$(CURDIR)/tmp_check \
               --temp-config=$(srcdir)/test/regress.conf --no-locale --encoding=UTF8
EXTRA_CLEAN  = results regression.diffs regression.out tmp_check

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES) Makefile
	{ printf '/* %s: built by the Makefile from $$(SQL_SOURCES); edit those, not this */\n\n' $@; \
	  printf -- '-- complain if script is sourced in psql, rather than via CREATE EXTENSION\n'; \
	  printf '\\echo Use "CREATE EXTENSION %s" to load this file. \\quit\n' $(EXTENSION); \
	  for f in $(SQL_SOURCES); do printf '\n-- from %s\n\n' $$f; cat $$f; done; } > $@

$(EXTENSION)--1.0--1.1.sql: $(UPGRADE_1_1) $(NEW_IN_1_1) Makefile
	{ printf '/* %s: built by the Makefile from src/upgrade/1.0--1.1/ and $$(NEW_IN_1_1) */\n\n' $@; \
	  printf -- '-- complain if script is sourced in psql, rather than via ALTER EXTENSION\n'; \
	  printf '\\echo Use "ALTER EXTENSION %s UPDATE TO '"'"'1.1'"'"'" to load this file. \\quit\n' $(EXTENSION); \
	  for f in $(UPGRADE_1_1) $(NEW_IN_1_1); do printf '\n-- from %s\n\n' $$f; cat $$f; done; } > $@

# the TAP tests (test/t/*.pl, PostgreSQL::Test::Cluster): upgrade from 1.0,
# pgTAP with and without preload, concurrency and pg_dump; each starts its
# own servers.  Not as root (initdb refuses it): scripts/test runs them as
# the postgres OS user.
.PHONY: prove-installcheck
prove-installcheck:
	cd $(srcdir) && TESTDIR='$(CURDIR)' PATH="$(bindir):$$PATH" \
	  PERL5LIB="$(pgxsdir)/src/test/perl:$$PERL5LIB" \
	  PG_REGRESS='$(pgxsdir)/src/test/regress/pg_regress' CLM_SRC='$(CURDIR)' \
	  $(PROVE) $(PROVE_FLAGS) test/t/*.pl

# the headers are few and short: rebuild every object when one changes
$(OBJS): $(wildcard src/*.h)

# the hypergeometric series sum many values of z per pass, one independent
# lane each: let the compiler vectorise them (as PostgreSQL does for its
# page checksums; lanes are independent, so results are bit-identical)
src/special.o: CFLAGS += $(CFLAGS_VECTORIZE)
