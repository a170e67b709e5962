import type { Command } from '../framework';
import { doctorCommand } from './doctor';

export const commands: Command[] = [doctorCommand];
