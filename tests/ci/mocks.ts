/** Shared Pulumi mocks for the CI-path tests: records every registration and throws on unmocked invokes. */
import type * as pulumiType from "@pulumi/pulumi";

export interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export const SUBSCRIPTION = "00000000-0000-0000-0000-000000000001";
export const TENANT = "00000000-0000-0000-0000-0000000000aa";
export const ADMIN_OBJECT_ID = "00000000-0000-0000-0000-0000000000ad";
export const RG_NAME = "rg-mnist-dev";
export const RG_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG_NAME}`;

let counter = 0;
const guid = () => `00000000-0000-4000-8000-${String(++counter).padStart(12, "0")}`;

/** Installs mocks on the given @pulumi/pulumi instance; returns the list registrations are pushed to. */
export function installMocks(
  pulumi: typeof pulumiType,
  project: string,
  config: Record<string, string>,
  preview = false,
): Registered[] {
  const registered: Registered[] = [];
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, unknown> = { ...args.inputs };
        let id = `${args.name}-id`;
        if (args.type === "azuread:index/application:Application") {
          const objectId = guid();
          id = `/applications/${objectId}`;
          state.clientId = guid();
          state.objectId = objectId;
        } else if (args.type === "azuread:index/servicePrincipal:ServicePrincipal") {
          id = guid();
          state.objectId = id;
        } else if (args.type === "azure-native:resources:ResourceGroup") {
          id = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${String(args.inputs.resourceGroupName)}`;
        }
        return { id, state };
      },
      call: (args) => {
        switch (args.token) {
          case "azure-native:authorization:getClientConfig":
            return {
              subscriptionId: SUBSCRIPTION,
              tenantId: TENANT,
              clientId: "admin-client",
              objectId: ADMIN_OBJECT_ID,
            };
          case "azuread:index/getClientConfig:getClientConfig":
            return { tenantId: TENANT, clientId: "admin-client", objectId: ADMIN_OBJECT_ID };
          case "azure-native:resources:getResourceGroup":
            return { id: RG_ID, name: args.inputs.resourceGroupName, location: "westeurope" };
          default:
            throw new Error(`unmocked invoke ${args.token}`);
        }
      },
    },
    project,
    "admin",
    preview,
  );
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(config).map(([k, v]) => [`${project}:${k}`, v])),
  );
  return registered;
}

export function promiseOf<T>(output: pulumiType.Output<T>): Promise<T> {
  return new Promise<T>((resolve) => output.apply(resolve));
}
