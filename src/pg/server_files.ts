/**
 * The state of the configuration files conf.ts writes that outlives one write: the role
 * raftgres.conf was last written for, and use_slots.
 */
import type { Upstream } from "../ha/actions.js";

export type ServerRole = { readonly role: "primary" } | { readonly role: "replica"; readonly upstream: Upstream | null };

/**
 * What raftgres.conf was last written for, and whether a replica streams through its member slot
 * on the upstream (use_slots: node.yml's, else the cluster's, src/ha/settings.ts resolveSwitch).
 * Off, the primary keeps no member slots (the HA rules), so naming one would stop the streaming:
 * PostgreSQL refuses a primary_slot_name that does not exist.
 */
export class ServerFiles {
  private slots = true;
  private role: ServerRole | null = null;

  /** Sets use_slots; true when it changed. */
  setUseSlots(on: boolean): boolean {
    if (on === this.slots) return false;
    this.slots = on;
    return true;
  }

  useSlots(): boolean {
    return this.slots;
  }

  written(role: ServerRole): void {
    this.role = role;
  }

  /** The role raftgres.conf was last written for (null before the first write of this process). */
  lastRole(): ServerRole | null {
    return this.role;
  }
}
