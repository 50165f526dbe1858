package dev.reins.protocol.auth;

import java.util.regex.Pattern;

/** Tenant names: who owns a run. Every run and token belongs to exactly one. */
public final class Tenants {
  /** The tenant of the bootstrap admin token, and of runs journaled before tenants existed. */
  public static final String DEFAULT = "default";

  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");

  private Tenants() {}

  /** Lower-case letters, digits, {@code . _ -}; 1 to 63 characters, starting with a letter or digit. */
  public static boolean isValid(String tenant) {
    return tenant != null && NAME.matcher(tenant).matches();
  }
}
