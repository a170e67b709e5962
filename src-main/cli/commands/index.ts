import type { Command } from '../framework';
import { doctorCommand } from './doctor';
import { imageCommands } from './images';
import { vmCommands } from './vms';

export const commands: Command[] = [doctorCommand, ...imageCommands, ...vmCommands];
