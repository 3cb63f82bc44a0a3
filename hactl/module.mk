# hactl: operator CLI (arrives with the HA issue).
HACTL_SRCS := $(wildcard hactl/*.c)
