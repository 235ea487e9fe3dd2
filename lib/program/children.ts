// Names of a component's children. Child names derive from the component's name (a URN holds the parent's type, not
// its name, so fixed child names collide as soon as a program has two instances of a component).

/** The logical name of a component's child: `<component>-<role>`. */
export function childName(component: string, role: string): string {
  return `${component}-${role}`;
}
