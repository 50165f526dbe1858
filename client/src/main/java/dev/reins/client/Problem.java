package dev.reins.client;

/**
 * An RFC 9457 problem as the server sends it ({@code application/problem+json}): {@code type} is
 * one of the README's {@code urn:reins:problem:*} names, {@code field} the request field at fault
 * for a validation problem.
 */
public record Problem(String type, String title, int status, String detail, String field) {
  private static final String PREFIX = "urn:reins:problem:";

  /** The type without its {@code urn:reins:problem:} prefix, e.g. {@code not-found}. */
  public String kind() {
    return type != null && type.startsWith(PREFIX) ? type.substring(PREFIX.length()) : type;
  }
}
