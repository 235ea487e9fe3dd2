// Names and options of a component's children. Child names derive from the component's name (a URN holds the parent's
// type, not its name, so fixed child names collide as soon as a program has two instances of a component).
import * as pulumi from "@pulumi/pulumi";

/** The logical name of a component's child: `<component>-<role>`. */
export function childName(component: string, role: string): string {
  return `${component}-${role}`;
}

/**
 * Aliases that keep a child's state from before child names carried the component's name: in the one program that
 * existed then (index.ts), the instance named `legacyComponent` had this child as `legacyChild`. Only that instance
 * gets the alias, so a second instance never claims another's resource.
 */
export function legacyAliases(
  component: string,
  legacyComponent: string,
  legacyChild: string,
): pulumi.Alias[] {
  return component === legacyComponent ? [{ name: legacyChild }] : [];
}
