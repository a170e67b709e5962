/** What the engine is made of, as the handler modules in services/ receive it. */
import type { EngineContext } from '@core/context';
import type { Images } from '@core/images/service';
import type { ShareChanges } from '@core/shares/changes';
import type { VmManager } from '@core/vm/manager';

export interface EngineParts {
  ctx: EngineContext;
  vms: VmManager;
  images: Images;
  shares: ShareChanges;
}
