/**
 * This folder (cli/commands/) has one module per group of commands; each declares its options and help,
 * and calls contract channels through `withEngine`.
 */
import type { Command } from '../framework';
import { doctorCommand } from './doctor';
import { imageCommands } from './images';
import { vmCommands } from './vms';
import { portCommand } from './ports';
import { serveCommand } from './serve';
import { configCommand } from './config';

export const commands: Command[] = [
  doctorCommand,
  ...imageCommands,
  ...vmCommands,
  portCommand,
  configCommand,
  serveCommand,
];
