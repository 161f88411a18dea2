import type { IConstruct } from '../engine';
import { TerraformResource, TerraformStack } from '../engine';
import { PlatformApp } from './app';
import { check } from './errors';

/** One Terraform `moved` block the refactoring wrote: the old address and the new. */
export interface MovedAddress {
  /** The resource's address under the former id (`type.logical_id`). */
  readonly from: string;
  /** Its address now. */
  readonly to: string;
}

const moves = new WeakMap<IConstruct, MovedAddress[]>();

/**
 * Keeps resources when a construct is renamed. A construct's id is part of every Terraform address
 * below it, so a new id would make Terraform destroy and recreate them: for a bucket or a database,
 * data loss. `renamed` writes a Terraform `moved { from = <old address>, to = <new address> }` block
 * (Terraform 1.1+, "Refactoring" in the Terraform docs; cdktf `TerraformResource.moveFromId`) for every
 * resource the construct holds in its stack, so that the plan shows moves instead. Physical names are
 * a separate matter: the stateful constructs take `formerId` and keep deriving names from it.
 */
export class PlatformRefactoring {
  /**
   * Records that `construct` was called `formerId` before: every resource below it moves from the address
   * it had under the former id, including resources added to it later (the moves are written at synth).
   */
  public static renamed(construct: IConstruct, formerId: string): void {
    check(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(formerId), construct, 'formerId', formerId, 'must be a construct id (letters, digits, \'_\', \'.\', \'-\')');
    check(formerId !== construct.node.id, construct, 'formerId', formerId, 'is the construct\'s id: nothing was renamed');
    PlatformApp.of(construct).addSynthHook({ beforeSynth: () => { PlatformRefactoring.writeMoves(construct, formerId); } });
  }

  /** The moves recorded for a construct (for reviews and tests), once the app is synthesized. */
  public static movesOf(construct: IConstruct): MovedAddress[] {
    return [...(moves.get(construct) ?? [])];
  }

  private static writeMoves(construct: IConstruct, formerId: string): void {
    const stack = TerraformStack.of(construct);
    const out: MovedAddress[] = [];
    for (const node of construct.node.findAll()) {
      if (!TerraformResource.isTerraformResource(node) || TerraformStack.of(node) !== stack) continue;
      const resource = node as TerraformResource;
      // The logical id the stack would have given the resource under the former id: cdktf's
      // TerraformStack.allocateLogicalId over the path components below the stack.
      const scopes = resource.node.scopes.map((s) => (s === construct ? { node: { id: formerId } } : s));
      // (protected for overriding; called as the stack itself would, so an overridden scheme is honoured)
      const formerLogicalId = (stack as unknown as { allocateLogicalId(node: unknown): string }).allocateLogicalId({ scopes });
      const from = `${resource.terraformResourceType}.${formerLogicalId}`;
      const to = `${resource.terraformResourceType}.${resource.friendlyUniqueId}`;
      if (from === to) continue;
      resource.moveFromId(from);
      out.push({ from, to });
    }
    moves.set(construct, out);
  }
}
