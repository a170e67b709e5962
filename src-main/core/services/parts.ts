/**
 * What the engine is made of, as the handler modules in services/ receive it.
 *
 * This folder (core/services/) has one handler module per contract service: `<service>.ts` registers
 * exactly the `<service>:*` channels, turning each call into domain calls. The rules themselves live in
 * vm/, shares/ and images/; the engine only wires these modules (test/architecture.test.ts holds both).
 */
import type { EngineContext } from '@core/context';
import type { Images } from '@core/images/service';
import type { ShareChanges } from '@core/shares/changes';
import type { PortChanges } from '@core/vm/port-changes';
import type { VmManager } from '@core/vm/manager';

export interface EngineParts {
  ctx: EngineContext;
  vms: VmManager;
  images: Images;
  shares: ShareChanges;
  ports: PortChanges;
}
