import type { Command } from '../framework';
import { doctorCommand } from './doctor';
import { imageCommands } from './images';
import { vmCommands } from './vms';
import { serveCommand } from './serve';
import { configCommand } from './config';

export const commands: Command[] = [doctorCommand, ...imageCommands, ...vmCommands, configCommand, serveCommand];
