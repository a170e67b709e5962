import type { Command } from '../framework';
import { doctorCommand } from './doctor';
import { imageCommands } from './images';
import { vmCommands } from './vms';
import { serveCommand } from './serve';

export const commands: Command[] = [doctorCommand, ...imageCommands, ...vmCommands, serveCommand];
