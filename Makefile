# clm: customer lifecycle management for PostgreSQL (PGXS build)
EXTENSION    = clm
EXTVERSION   = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")
MODULE_big   = clm
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA         = $(wildcard $(EXTENSION)--*.sql)
PG_CPPFLAGS  = -I$(srcdir)/src
override PG_CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

# every sql/*.sql runs against expected/*.out; each test file creates what it needs
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=$(EXTENSION)
EXTRA_CLEAN  = results regression.diffs regression.out

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# pgTAP suite against a running cluster (PG* environment variables apply)
.PHONY: installcheck-pgtap
installcheck-pgtap:
	pg_prove test/*.sql

# the headers are few and short: rebuild every object when one changes
$(OBJS): $(wildcard src/*.h)

# the hypergeometric series sum many values of z per pass, one independent
# lane each: let the compiler vectorise them (as PostgreSQL does for its
# page checksums; lanes are independent, so results are bit-identical)
src/special.o: CFLAGS += $(CFLAGS_VECTORIZE)
